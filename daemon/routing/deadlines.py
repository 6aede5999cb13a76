"""How long a request may wait on its backends: one deadline for the first chunk and one for
each gap between chunks, shared by every attempt and fallback of the request.

A backend that goes silent past its deadline fails the attempt with a 504 that names what
timed out, and is marked as cooling at once, so the next request does not wait on it again.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.models import ChatRequest, ModelInfo

# Ours, and a backend's own (a connection that was never accepted, a client library's limit).
TIMEOUT_KINDS = frozenset({"first_byte_timeout", "idle_timeout", "timeout"})


class DeadlineSettings(BaseModel):
    """`[routing.deadlines]`: seconds. Local means the user's own machines (embedded, Ollama, an
    OpenAI-compatible endpoint with `local = true`); cloud is everything else."""

    local_first_byte_s: float = Field(default=30.0, gt=0)
    local_idle_s: float = Field(default=60.0, gt=0)
    cloud_first_byte_s: float = Field(default=120.0, gt=0)
    cloud_idle_s: float = Field(default=120.0, gt=0)

    def first_byte_s(self, model: ModelInfo, request: ChatRequest) -> float:
        """A non-stream answer may come whole, in one piece after the upstream finished
        generating: it gets the idle allowance on top."""
        if model.local:
            first, idle = self.local_first_byte_s, self.local_idle_s
        else:
            first, idle = self.cloud_first_byte_s, self.cloud_idle_s
        return first if request.stream else first + idle

    def idle_s(self, model: ModelInfo) -> float:
        return self.local_idle_s if model.local else self.cloud_idle_s


class Deadline:
    """One request's first-chunk deadline, in the event loop's time: set when its first attempt
    starts, then shared by its retries and fallbacks (each also within its own model's)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None

    def first_chunk_at(self, settings: DeadlineSettings, model: ModelInfo, request: ChatRequest) -> float:
        own = asyncio.get_running_loop().time() + settings.first_byte_s(model, request)
        if self.at is None:
            self.at = own
        return min(self.at, own)

    def left(self) -> float:
        return float("inf") if self.at is None else self.at - asyncio.get_running_loop().time()


def timed_out(model: ModelInfo, what: str, seconds: float) -> BackendError:
    if what == "first_byte_timeout":
        message = f"{model.id} sent nothing within {seconds:.3g} s (the first-byte deadline)"
    else:
        message = (
            f"{model.id} sent nothing for {seconds:.3g} s in the middle of its answer (the idle deadline)"
        )
    return BackendError(message, status=504, retryable=True, kind=what)


class Watch:
    """One attempt's wait on its backend: when it expires (`at`, loop time), and whether the
    task is waiting on the backend right now (only then is it cancelled)."""

    __slots__ = ("at", "expired", "idle_s", "task", "waiting")

    def __init__(self, first_at: float, idle_s: float) -> None:
        self.at = first_at
        self.idle_s = idle_s
        self.task: asyncio.Task[object] | None = None
        self.waiting = False
        self.expired = False

    def begin(self, now: float | None = None) -> None:
        """A wait on the backend starts: for the first chunk (by the first-byte deadline) or,
        given `now`, for a later one (by the idle deadline)."""
        if now is not None:
            self.at = now + self.idle_s
        self.task = asyncio.current_task()
        self.waiting = True

    def missed(self) -> bool:
        """Whether the cancellation the task is in was this watch's doing (and only its)."""
        return self.expired and self.task is not None and self.task.uncancel() == 0


class Watchdogs:
    """Every attempt waiting on a backend, checked by one timer every TICK_S while there are
    any: a request costs no timer of its own, and a chunk only a clock read (this is the hot
    path; a deadline fires up to TICK_S late)."""

    TICK_S = 0.1

    def __init__(self) -> None:
        self._active: set[Watch] = set()
        self._timer: asyncio.TimerHandle | None = None

    def start(self, first_at: float, idle_s: float) -> Watch:
        watch = Watch(first_at, idle_s)
        self._active.add(watch)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.TICK_S, self._sweep, loop)
        return watch

    def stop(self, watch: Watch) -> None:
        self._active.discard(watch)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for watch in self._active:
            if watch.waiting and not watch.expired and now >= watch.at and watch.task is not None:
                watch.expired = True
                watch.task.cancel()
        self._timer = loop.call_later(self.TICK_S, self._sweep, loop) if self._active else None
