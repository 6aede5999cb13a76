"""Every model Roundhouse offers, under stable names, and how to reach each one."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from roundhouse.daemon.backends.base import Backend, BackendError
from roundhouse.daemon.models import BackendHealth, ModelInfo
from roundhouse.daemon.routing.route import Target

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0
LIST_TIMEOUT_SECONDS = 5.0


class Catalog:
    """Model listings from all backends, refreshed at most every few seconds.

    Names: the stable id (`local/smollm2-135m`, `ollama/llama3.1:8b`, `openai/gpt-4o-mini`),
    the backend's own name where only one backend has it (`llama3.1:8b`, `smollm2-135m`),
    and Ollama's untagged form for `:latest` (`llama3.2` for `llama3.2:latest`).
    """

    def __init__(self, backends: list[Backend], virtual: Callable[[], list[ModelInfo]] | None = None) -> None:
        self.backends: dict[str, Backend] = {b.name: b for b in backends}
        self._virtual = virtual or (lambda: [])
        self._models: list[ModelInfo] = []
        self._by_name: dict[str, ModelInfo] = {}
        # The last listing of each backend that answered: a request that names a model of a
        # host that is down still resolves, so the fleet can send it to another placement.
        self._last_good: dict[str, list[ModelInfo]] = {}
        self._stale: dict[str, ModelInfo] = {}
        self.health: dict[str, BackendHealth] = {}
        self._refreshed = 0.0
        self.generation = 0  # counts refreshes, so callers can keep what they derive from a snapshot
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    def set_virtual(self, virtual: Callable[[], list[ModelInfo]]) -> None:
        self._virtual = virtual

    def models(self) -> list[ModelInfo]:
        """The last snapshot of real models (no virtual ones)."""
        return list(self._models)

    def virtual_models(self) -> list[ModelInfo]:
        return self._virtual()

    async def all_models(self, *, include_virtual: bool = True) -> list[ModelInfo]:
        await self.refresh()
        return (self.virtual_models() if include_virtual else []) + self.models()

    async def refresh(self, force: bool = False, *, wait: bool = True) -> None:
        """Re-list every backend's models when the snapshot is older than a few seconds.
        `wait=False` (the request path) keeps answering from the snapshot it has and re-lists
        in the background, so no request waits on the backends' listings."""
        if not force and time.monotonic() - self._refreshed < REFRESH_SECONDS:
            return
        if not wait and not force and self.generation > 0:
            if self._background is None or self._background.done():
                self._background = asyncio.get_running_loop().create_task(self.refresh())
            return
        async with self._lock:
            if not force and time.monotonic() - self._refreshed < REFRESH_SECONDS:
                return
            listings = await asyncio.gather(*(self._list(b) for b in self.backends.values()))
            models = [m for listing in listings for m in listing]
            self._models = models
            self._by_name = _index(models)
            self._stale = {
                m.id: m
                for name, listing in self._last_good.items()
                if name in self.backends and not self.health.get(name, BackendHealth(ok=True)).ok
                for m in listing
            }
            self.generation += 1
            self._refreshed = time.monotonic()

    async def _list(self, backend: Backend) -> list[ModelInfo]:
        try:
            models = await asyncio.wait_for(backend.list_models(), LIST_TIMEOUT_SECONDS)
        except (BackendError, TimeoutError) as exc:
            self.health[backend.name] = BackendHealth(ok=False, detail=str(exc) or "timed out listing models")
            return []
        self.health[backend.name] = BackendHealth(ok=True, detail=f"{len(models)} model(s)")
        self._last_good[backend.name] = models
        return models

    async def check_health(self) -> dict[str, BackendHealth]:
        results = await asyncio.gather(*(b.health() for b in self.backends.values()), return_exceptions=True)
        for backend, result in zip(self.backends.values(), results, strict=True):
            if isinstance(result, BaseException):
                self.health[backend.name] = BackendHealth(ok=False, detail=str(result))
            else:
                self.health[backend.name] = result
        return dict(self.health)

    def lookup(self, name: str) -> ModelInfo | None:
        return self._by_name.get(name)

    def resolve(self, name: str) -> Target | None:
        model = self._by_name.get(name) or self._stale.get(name)
        if model is None:
            return None
        backend = self.backends.get(model.backend)
        return Target(model, backend) if backend is not None else None


def _index(models: list[ModelInfo]) -> dict[str, ModelInfo]:
    index: dict[str, ModelInfo] = {m.id: m for m in models}
    aliases: dict[str, list[ModelInfo]] = {}
    for model in models:
        names = {model.native}
        if model.native.endswith(":latest"):
            names.add(model.native.removesuffix(":latest"))
        for alias in names:
            aliases.setdefault(alias, []).append(model)
    for alias, owners in aliases.items():
        # A name several hosts serve is one model in several places (the fleet picks the
        # place); a name both a local host and a cloud serve stays ambiguous.
        if alias not in index and len({m.local for m in owners}) == 1 and len({m.kind for m in owners}) == 1:
            index[alias] = owners[0]
    return index
