"""Small helpers every HTTP face shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

T = TypeVar("T")

CHAT_ID_HEADER = "x-openwebui-chat-id"
USER_HEADER = "x-openwebui-user-id"


def daemon_of(request: Request) -> Daemon:
    return request.app.state.rh  # type: ignore[no-any-return]


def request_meta(request: Request) -> dict[str, Any]:
    """Who sent this: the app (from its token, set by the guard) and Open WebUI's chat id."""
    headers = request.headers
    return {
        "app": request.scope.get("state", {}).get("app_name", "unknown"),
        "chat_id": headers.get(CHAT_ID_HEADER),
    }


async def first_and_rest(stream: AsyncIterator[T]) -> tuple[T | None, AsyncIterator[T]]:
    """Wait for the first item before answering, so that a failure before any output gets a
    proper HTTP status instead of an error inside a 200 stream."""
    first = await anext(stream, None)
    return first, stream
