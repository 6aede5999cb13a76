"""Run daemon calls without blocking the UI: a task on the qasync loop, results back as callbacks.

The qasync loop is Qt's own event loop, so callbacks run on the main thread and may touch
widgets directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def spawn(
    coro: Coroutine[Any, Any, T],
    on_done: Callable[[T], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> asyncio.Task[T]:
    """Start `coro` now; call `on_done(result)` or `on_error(exc)` when it ends (not when cancelled)."""
    task = asyncio.ensure_future(coro)
    _running.add(task)

    def finished(task: asyncio.Task[T]) -> None:
        _running.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        try:
            if exc is None:
                if on_done is not None:
                    on_done(task.result())
            elif isinstance(exc, Exception) and on_error is not None:
                on_error(exc)
            else:
                log.error("background call failed", exc_info=exc)
        except RuntimeError as late:
            # The widget the result was meant for was closed and deleted meanwhile.
            if "already deleted" not in str(late):
                raise

    task.add_done_callback(finished)
    return task


def cancel_all() -> None:
    for task in list(_running):
        task.cancel()
