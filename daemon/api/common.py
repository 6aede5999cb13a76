"""Small helpers every HTTP face shares."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic_core import to_json
from starlette.background import BackgroundTask

from roundhouse.daemon.models import ChatChunk

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

T = TypeVar("T")
log = logging.getLogger(__name__)

_SET_HERE = ("content-length", "content-type")
CHAT_ID_HEADER = b"x-openwebui-chat-id"
CACHE_CONTROL_HEADER = b"cache-control"
# What an Anthropic client sends that Anthropic itself reads: passed on to it unchanged.
ANTHROPIC_HEADERS = (b"anthropic-version", b"anthropic-beta")


def daemon_of(request: Request) -> Daemon:
    return request.app.state.rh  # type: ignore[no-any-return]


def request_meta(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    """Who sent this and how: the app (from its token, set by the guard), Open WebUI's chat id
    and the client's Cache-Control, as ChatRequest fields."""
    chat_id = cache_control = None
    for name, value in scope["headers"]:
        if name == CHAT_ID_HEADER:
            chat_id = value.decode("latin-1")
        elif name == CACHE_CONTROL_HEADER:
            cache_control = value.decode("latin-1")
    meta: dict[str, Any] = {
        "app": scope.get("state", {}).get("app_name", "unknown"),
        "chat_id": chat_id,
        "cache_control": cache_control,
    }
    if scope["path"].startswith("/v1/messages"):  # the Anthropic dialect takes them off again
        meta["dialect_headers"] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in ANTHROPIC_HEADERS
        }
    return meta


async def first_and_rest(stream: AsyncIterator[T]) -> tuple[T | None, AsyncIterator[T]]:
    """Wait for the first item before answering, so that a failure before any output gets a
    proper HTTP status instead of an error inside a 200 stream."""
    first = await anext(stream, None)
    return first, stream


async def whole_answer(first: ChatChunk | None, rest: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    """A non-stream answer's chunks, as soon as the answer is whole: a chunk with a finish
    reason and the usage is the last one a client needs. What the stream still does after it
    (freeing the backend's slot, storing the cache entry, committing the ledger row) is done
    before the answer goes out: a client never holds an answer whose ledger row a crash can
    still lose."""
    chunks: list[ChatChunk] = []
    chunk = first
    while chunk is not None:
        chunks.append(chunk)
        if chunk.finish_reason is not None and chunk.usage is not None:
            break
        chunk = await anext(rest, None)
    await _drain(rest)
    return chunks


def finish_after(rest: AsyncIterator[ChatChunk]) -> BackgroundTask:
    """Runs the rest of an answer's stream to its end once the response is sent."""
    return BackgroundTask(_drain, rest)


async def _drain(rest: AsyncIterator[ChatChunk]) -> None:
    try:
        async for _ in rest:
            pass
    except Exception:  # the client has its answer: there is nobody left to tell but the log
        log.exception("finishing a request after its answer was whole failed")


class FastJSONResponse(JSONResponse):
    """A JSONResponse rendered by pydantic's serializer, several times faster than `json` (an
    embedding's 384 floats take 0.1 ms with `json.dumps`), with its headers put together in
    one pass: it answers every chat and completion."""

    def render(self, content: Any) -> bytes:
        return to_json(content)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        bodiless = self.status_code < 200 or self.status_code in (204, 304)
        own = [(b"content-length", str(len(self.body)).encode()), (b"content-type", b"application/json")]
        raw = None if bodiless else with_headers(own, headers)
        if raw is None:
            super().init_headers(headers)  # Starlette's rules for the unusual cases
        else:
            self.raw_headers = raw


def with_headers(
    own: list[tuple[bytes, bytes]], headers: Mapping[str, str] | None
) -> list[tuple[bytes, bytes]] | None:
    """A response's own content headers and then `headers`, encoded in one pass; None when
    `headers` sets a content header itself (Starlette's own rules then decide)."""
    if not headers:
        return own
    if any(k.lower() in _SET_HERE for k in headers):
        return None
    return own + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
