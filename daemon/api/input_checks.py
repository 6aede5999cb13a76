"""Checks at the edge that the request models cannot express: integers a backend can hold, and
text that can be encoded (JSON's \\ud800 escape decodes to a lone surrogate, which no UTF-8
encoder, tokenizer or database accepts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.models import ChatRequest

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _encodable(value: Any) -> bool:
    """The quick look every request gets: ASCII text (nearly all of it) costs one check."""
    kind = type(value)
    if kind is str:
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if kind is dict:
        for item in value.values():
            if not _encodable(item):
                return False
    elif kind is list:
        for item in value:
            if not _encodable(item):
                return False
    return True


def check_encodable(**fields: Any) -> None:
    """An `ApiError` (400) naming the first field whose text cannot be encoded as UTF-8."""
    for name, value in fields.items():
        if value is None or _encodable(value):
            continue
        for where, text in _strings(value, name):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(
                    400,
                    f"'{where}' holds text that cannot be encoded as UTF-8 "
                    "(a lone surrogate such as \\ud800)",
                    code="invalid_request",
                    param=where,
                ) from None


def check_request_text(chat: ChatRequest) -> None:
    if _encodable(chat.messages) and (chat.prompt is None or _encodable(chat.prompt)):
        if _encodable(chat.model) and not (chat.suffix or chat.stop or chat.tools or chat.response_format):
            return
    check_encodable(
        model=chat.model,
        messages=chat.messages,
        prompt=chat.prompt,
        suffix=chat.suffix,
        stop=chat.stop,
        tools=chat.tools,
        response_format=chat.response_format,
    )
