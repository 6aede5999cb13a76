"""A non-stream request is abandoned when its client goes, as a stream is (see streaming.py).

While a non-stream answer is worked on, nothing reads the request's ASGI receive channel, so
a client that closes its socket would leave the backend generating for nobody and its slot
taken. One small watcher per non-stream request reads the channel and, on `http.disconnect`,
cancels the request's task: the cancellation runs through the gateway's stream, which records
the request as cancelled (499) and frees the backend's slot at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from roundhouse.daemon.api.guard import Receive

T = TypeVar("T")


def wants_whole_answer(body: Any) -> bool:
    """A chat or completion body that asks for a non-stream answer (embeddings have no
    `stream` and are quick)."""
    return getattr(body, "stream", True) is False


async def unless_client_leaves(receive: Receive, work: Awaitable[T]) -> tuple[bool, T | None]:
    """`(True, result)` of `work` awaited in this task, or `(False, None)` when the client
    disconnected first (`work` is cancelled then)."""
    task = asyncio.current_task()
    assert task is not None
    waiting = True
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        if waiting:
            task.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return True, await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        return False, None
    finally:
        waiting = False
        watcher.cancel()
