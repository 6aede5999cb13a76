"""The protocols of the pipeline stages a request passes, with do-nothing defaults.

Each concern (cache, scheduling, residency, spend) builds its real component in its own
package's `factory.build(ctx)`; the gateway only knows these protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo, Priority, Usage
from roundhouse.daemon.routing.route import Route, Target

CacheStatus = Literal["hit", "miss", "off"]


@dataclass(slots=True)
class CacheLookup:
    status: CacheStatus
    key: str | None = None  # also the single-flight key; None when the request is not cacheable
    chunks: list[ChatChunk] | None = None  # set on a hit
    kind: Literal["exact", "semantic"] | None = None
    entry_id: str | None = None
    model: str | None = None  # on a hit, the model whose answer it replays


class ResponseCache(Protocol):
    async def lookup(self, request: ChatRequest, route: Route) -> CacheLookup: ...

    async def store(
        self, request: ChatRequest, route: Route, lookup: CacheLookup, chunks: list[ChatChunk]
    ) -> None: ...


class QueueFull(Exception):
    """The backend's queue is at its depth limit: answer 503 with Retry-After."""

    def __init__(self, backend: str, retry_after: float):
        super().__init__(f"backend '{backend}' is busy: queue is full, retry in {retry_after:.0f} s")
        self.backend = backend
        self.retry_after = retry_after


class Scheduler(Protocol):
    def slot(self, backend: str, priority: Priority) -> AbstractAsyncContextManager[None]: ...

    @property
    def background_paused(self) -> bool:
        """True while interactive work holds background (agent) work back."""
        ...


class SingleFlight(Protocol):
    def run(self, key: str | None, start: Callable[[], AsyncIterator[ChatChunk]]) -> AsyncIterator[ChatChunk]:
        """Share one backend stream among identical requests (same non-None key) in flight."""
        ...


class Residency(Protocol):
    async def ensure(self, target: Target) -> None:
        """Make sure `target.model` is (or can be) resident before the request runs."""
        ...

    def hold(self, target: Target, request: ChatRequest | None = None) -> AbstractAsyncContextManager[None]:
        """`ensure`, then count the request as running on the model until the block ends."""
        ...

    def hold_memory(self, nbytes: int, *, holder: str) -> AbstractAsyncContextManager[list[str]]:
        """Keep GPU memory for other work (an image job) while the block runs; yields the
        models unloaded to make room."""
        ...

    async def preload(self, target: Target, keep_alive: str | float | None = None) -> None:
        """Load `target.model` now (Ollama's load-only request form)."""
        ...

    async def unload(self, target: Target) -> bool:
        """Unload `target.model` now; False when it was not loaded."""
        ...

    async def status(self) -> dict[str, Any]: ...


class Spend(Protocol):
    def cost(self, model: ModelInfo, usage: Usage) -> float:
        """US dollars for this usage (0 for local models)."""
        ...

    def budget_block(self, app: str) -> str | None:
        """Why `app` may not spend on the cloud now (a budget is spent), or None."""
        ...


# Do-nothing defaults: what the daemon core runs with before a concern plugs in.


class NoCache:
    async def lookup(self, request: ChatRequest, route: Route) -> CacheLookup:
        return CacheLookup(status="off")

    async def store(
        self, request: ChatRequest, route: Route, lookup: CacheLookup, chunks: list[ChatChunk]
    ) -> None:
        return None


class NoQueue:
    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        yield

    def slot(self, backend: str, priority: Priority) -> AbstractAsyncContextManager[None]:
        return self._slot()

    @property
    def background_paused(self) -> bool:
        return False


class NoSingleFlight:
    def run(self, key: str | None, start: Callable[[], AsyncIterator[ChatChunk]]) -> AsyncIterator[ChatChunk]:
        return start()


@dataclass
class NoResidency:
    note: str = "residency management not enabled"
    extra: dict[str, Any] = field(default_factory=dict)

    async def ensure(self, target: Target) -> None:
        return None

    @asynccontextmanager
    async def hold(self, target: Target, request: ChatRequest | None = None) -> AsyncIterator[None]:
        yield

    @asynccontextmanager
    async def hold_memory(self, nbytes: int, *, holder: str) -> AsyncIterator[list[str]]:
        yield []

    async def preload(self, target: Target, keep_alive: str | float | None = None) -> None:
        await target.backend.load(target.model, keep_alive)

    async def unload(self, target: Target) -> bool:
        await target.backend.unload(target.model)
        return True

    async def status(self) -> dict[str, Any]:
        return {"enabled": False, "detail": self.note}


class FreeSpend:
    def cost(self, model: ModelInfo, usage: Usage) -> float:
        return 0.0

    def budget_block(self, app: str) -> str | None:
        return None
