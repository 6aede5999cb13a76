"""Per-backend priority queue with bounded concurrency.

Interactive requests always go ahead of background (agent) work; background work does not
start while interactive work is queued or running, and resumes a moment after it stops.
A queue at its depth limit refuses new requests with `QueueFull` (503 + Retry-After).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.models import Priority

# Seconds one request is assumed to take before any has been measured.
DEFAULT_SERVICE_S = 2.0
MAX_RETRY_AFTER_S = 120
TIMER_SLACK_S = 0.01


def is_interactive(priority: Priority | int) -> bool:
    return int(priority) < int(Priority.BACKGROUND)


@dataclass(order=True, slots=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)


@dataclass(slots=True)
class _Lane:
    name: str
    limit: int
    running: int = 0
    interactive: int = 0  # queued + running interactive requests on this lane
    waiting: list[_Waiter] = field(default_factory=list)
    service_s: float = DEFAULT_SERVICE_S  # moving average of how long a slot is held
    served: int = 0
    refused: int = 0
    resume_at: float = 0.0

    def queued(self) -> int:
        return sum(1 for w in self.waiting if not w.future.done())

    def queued_interactive(self) -> int:
        return sum(1 for w in self.waiting if not w.future.done() and is_interactive(w.priority))


class PriorityScheduler:
    """Implements the `Scheduler` protocol of daemon/components.py."""

    def __init__(
        self,
        concurrency_for: Callable[[str], int],
        *,
        max_queue_depth: int = 64,
        pause_background: bool = True,
        pause_scope: str = "global",
        resume_delay_s: float = 0.25,
        publish: Callable[[str, dict[str, Any]], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._concurrency_for = concurrency_for
        self._max_depth = max_queue_depth
        self._pause_background = pause_background
        self._pause_scope = pause_scope
        self._resume_delay_s = resume_delay_s
        # One timer for all pending resumes, not one per finished request.
        self._resume_timer: asyncio.TimerHandle | None = None
        self._publish = publish
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._seq = itertools.count()
        self._interactive = 0
        self._resume_at = 0.0
        self._background_free = asyncio.Event()
        self._background_free.set()

    # -- public face --------------------------------------------------------------------

    def slot(self, backend: str, priority: Priority) -> AbstractAsyncContextManager[None]:
        return _Slot(self, self._lane(backend), int(priority))

    @property
    def background_paused(self) -> bool:
        return not self._background_free.is_set()

    async def wait_background_turn(self) -> None:
        """Return when background work may run (for agents that pause between steps)."""
        while not self._background_free.is_set():
            await self._background_free.wait()

    def stats(self) -> dict[str, Any]:
        return {
            "background_paused": self.background_paused,
            "interactive_active": self._interactive,
            "backends": {
                lane.name: {
                    "concurrency": lane.limit,
                    "running": lane.running,
                    "queued": lane.queued(),
                    "queued_interactive": lane.queued_interactive(),
                    "served": lane.served,
                    "refused": lane.refused,
                    "avg_service_s": round(lane.service_s, 3),
                }
                for lane in self._lanes.values()
            },
        }

    # -- the slot -----------------------------------------------------------------------

    async def _acquire(self, lane: _Lane, priority: int) -> None:
        if lane.running < lane.limit and lane.queued() == 0 and not self._blocked(lane, priority):
            lane.running += 1
            return
        self._check_depth(lane, priority)
        waiter = _Waiter(priority, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(lane.waiting, waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                # Granted in the same tick as the cancellation: hand the slot on.
                lane.running -= 1
                self._dispatch(lane)
            else:
                waiter.future.cancel()
            raise

    def _check_depth(self, lane: _Lane, priority: int) -> None:
        # Interactive requests only count interactive ones ahead of them: agents never
        # crowd a person out of the queue.
        depth = lane.queued_interactive() if is_interactive(priority) else lane.queued()
        if depth >= self._max_depth:
            lane.refused += 1
            retry_after = max(1, math.ceil(lane.service_s * (depth + 1) / lane.limit))
            raise QueueFull(lane.name, float(min(retry_after, MAX_RETRY_AFTER_S)))

    # -- dispatch -----------------------------------------------------------------------

    def _lane(self, backend: str) -> _Lane:
        lane = self._lanes.get(backend)
        if lane is None:
            lane = _Lane(name=backend, limit=max(1, int(self._concurrency_for(backend))))
            self._lanes[backend] = lane
        return lane

    def _blocked(self, lane: _Lane, priority: int) -> bool:
        if is_interactive(priority) or not self._pause_background:
            return False
        now = self._clock()
        if self._pause_scope == "backend":
            return lane.interactive > 0 or now < lane.resume_at
        return self._interactive > 0 or now < self._resume_at

    def _dispatch(self, lane: _Lane) -> None:
        while lane.waiting and lane.running < lane.limit:
            head = lane.waiting[0]
            if head.future.done():
                heapq.heappop(lane.waiting)
                continue
            if self._blocked(lane, head.priority):
                return
            heapq.heappop(lane.waiting)
            lane.running += 1
            head.future.set_result(None)

    def _dispatch_all(self) -> None:
        for lane in self._lanes.values():
            self._dispatch(lane)

    # -- pausing background work --------------------------------------------------------

    def _interactive_started(self, lane: _Lane) -> None:
        lane.interactive += 1
        self._interactive += 1
        if self._pause_background and self._background_free.is_set():
            self._background_free.clear()
            self._emit("scheduling.background_paused", {"backend": lane.name})

    def _interactive_finished(self, lane: _Lane) -> None:
        lane.interactive -= 1
        self._interactive -= 1
        now = self._clock()
        if lane.interactive == 0:
            lane.resume_at = now + self._resume_delay_s
        if self._interactive == 0:
            self._resume_at = now + self._resume_delay_s
        if lane.interactive == 0 and self._resume_timer is None:
            self._resume_timer = asyncio.get_running_loop().call_later(
                self._resume_delay_s, self._resume_background
            )

    def _resume_background(self) -> None:
        self._resume_timer = None
        # Timers may fire a hair early: clear deadlines that are (almost) due rather than
        # compare clocks exactly; a deadline newer work pushed later re-arms the timer below.
        due = self._clock() + TIMER_SLACK_S
        for lane in self._lanes.values():
            if lane.interactive == 0 and lane.resume_at <= due:
                lane.resume_at = 0.0
        if self._interactive == 0 and self._resume_at <= due:
            self._resume_at = 0.0
            if not self._background_free.is_set():
                self._background_free.set()
                self._emit("scheduling.background_resumed", {})
        self._dispatch_all()
        # Deadlines that newer work pushed past this timer get it back, for the nearest one.
        lanes = self._lanes.values()
        pending = [lane.resume_at for lane in lanes if lane.interactive == 0 and lane.resume_at]
        if self._interactive == 0 and self._resume_at:
            pending.append(self._resume_at)
        if pending:
            delay = max(0.0, min(pending) - self._clock())
            self._resume_timer = asyncio.get_running_loop().call_later(delay, self._resume_background)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._publish is not None:
            self._publish(kind, data)


class _Slot:
    """One request's turn on a backend (a class, not a generator: it sits on every request)."""

    __slots__ = ("_interactive", "_lane", "_priority", "_scheduler", "_started")

    def __init__(self, scheduler: PriorityScheduler, lane: _Lane, priority: int) -> None:
        self._scheduler = scheduler
        self._lane = lane
        self._priority = priority
        self._interactive = is_interactive(priority)
        self._started = 0.0

    async def __aenter__(self) -> None:
        scheduler, lane = self._scheduler, self._lane
        if self._interactive:
            scheduler._interactive_started(lane)
        try:
            await scheduler._acquire(lane, self._priority)
        except BaseException:
            self._leave()
            raise
        self._started = scheduler._clock()

    async def __aexit__(self, *exc: object) -> None:
        lane = self._lane
        lane.running -= 1
        lane.served += 1
        held = self._scheduler._clock() - self._started
        lane.service_s = 0.8 * lane.service_s + 0.2 * held if lane.served > 1 else held
        self._leave()

    def _leave(self) -> None:
        if self._interactive:
            self._scheduler._interactive_finished(self._lane)
        self._scheduler._dispatch_all()
