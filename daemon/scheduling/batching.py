"""Micro-batching: small requests that arrive within a short window run as one batch.

Used by the embedder: thirty-two clients each asking for one embedding cost one forward
pass of the model instead of thirty-two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R", bound=Sequence[Any])


@dataclass(slots=True)
class _Pending(Generic[T]):
    items: list[T]
    future: asyncio.Future[Any]


class MicroBatcher(Generic[T, R]):
    """Collects `submit(items)` calls for `window_s`, then runs `run_batch` once on all items.

    A lone request on an idle batcher runs at once (no window to pay); as soon as requests
    overlap, each batch waits up to `window_s` for company (or until `max_batch` items).
    `run_batch` returns one result row per item (a list or a numpy array); each caller gets
    back the slice for its own items. An error fails every caller in that batch.
    """

    def __init__(
        self, run_batch: Callable[[list[T]], Awaitable[R]], *, window_s: float = 0.004, max_batch: int = 128
    ) -> None:
        self._run_batch = run_batch
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: list[_Pending[T]] = []
        self._pending_items = 0
        self._full = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_batch_requests = 0
        self.batches = 0
        self.items = 0

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Batching state belongs to one event loop; a batcher reused from another loop (a
        daemon restarted in the same process) starts afresh there."""
        if self._loop is loop:
            return
        self._loop = loop
        self._pending, self._pending_items = [], 0
        self._full = asyncio.Event()
        self._worker = None

    async def submit(self, items: list[T]) -> R:
        loop = asyncio.get_running_loop()
        self._bind(loop)
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append(_Pending(items, future))
        self._pending_items += len(items)
        if self._pending_items >= self._max_batch:
            self._full.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(), name="micro-batcher")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            concurrent = len(self._pending) > 1 or self._last_batch_requests > 1
            if concurrent and self._pending_items < self._max_batch and self._window_s > 0:
                try:
                    await asyncio.wait_for(self._full.wait(), self._window_s)
                except TimeoutError:
                    pass
            self._full.clear()
            batch = self._take()
            live = [p for p in batch if not p.future.done()]
            if not live:
                continue
            flat = [item for p in live for item in p.items]
            self._last_batch_requests = len(live)
            self.batches += 1
            self.items += len(flat)
            try:
                results = await self._run_batch(flat)
            except Exception as exc:
                for p in live:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            start = 0
            for p in live:
                end = start + len(p.items)
                if not p.future.done():
                    p.future.set_result(results[start:end])
                start = end

    def _take(self) -> list[_Pending[T]]:
        taken: list[_Pending[T]] = []
        count = 0
        while self._pending and (not taken or count + len(self._pending[0].items) <= self._max_batch):
            p = self._pending.pop(0)
            taken.append(p)
            count += len(p.items)
        self._pending_items -= count
        if self._pending_items >= self._max_batch:
            self._full.set()
        return taken
