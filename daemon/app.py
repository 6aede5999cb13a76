"""The composition root: builds every component once and wires them together."""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from roundhouse.daemon import __version__
from roundhouse.daemon.agents import factory as agents_factory
from roundhouse.daemon.backends.base import Backend
from roundhouse.daemon.backends.catalog import Catalog
from roundhouse.daemon.cache import factory as cache_factory
from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.components import (
    FreeSpend,
    NoCache,
    NoQueue,
    NoResidency,
    NoSingleFlight,
    ResponseCache,
    Scheduler,
    SingleFlight,
    Spend,
)
from roundhouse.daemon.components import Residency as ResidencyProtocol
from roundhouse.daemon.config import Settings, data_dir
from roundhouse.daemon.events import EventBus
from roundhouse.daemon.fleet import factory as fleet_factory
from roundhouse.daemon.fleet.factory import FleetWiring
from roundhouse.daemon.fleet.fleet import Fleet
from roundhouse.daemon.gateway import Gateway
from roundhouse.daemon.images import factory as images_factory
from roundhouse.daemon.images.service import ImageService
from roundhouse.daemon.memory import factory as memory_factory
from roundhouse.daemon.models import ChatRequest
from roundhouse.daemon.residency import factory as residency_factory
from roundhouse.daemon.routing import factory as routing_factory
from roundhouse.daemon.routing.route import Route, Router, RoutingError
from roundhouse.daemon.scheduling import factory as scheduling_factory
from roundhouse.daemon.secrets import Secrets
from roundhouse.daemon.spend import factory as spend_factory
from roundhouse.daemon.store import Store
from roundhouse.daemon.tokens import Tokens

log = logging.getLogger(__name__)
BACKEND_ENTRY_POINTS = "roundhouse.backends"


class _Starting:
    """The router until `start()` has built the real one."""

    async def decide(self, request: ChatRequest) -> Route:
        raise RoutingError("Roundhouse is still starting; try again in a moment", status=503, kind="starting")


class Daemon:
    """Everything the daemon is, built once. The HTTP app reads it from `app.state.rh`."""

    def __init__(
        self, settings: Settings, *, secrets: Secrets | None = None, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings
        self.version = __version__
        self.started_at = time.time()
        self.ready = False
        self.data_dir = data_dir()
        self.store = Store(self.data_dir / "roundhouse.db")
        self.events = EventBus()
        self.secrets = secrets or Secrets()
        self.tokens = Tokens(self.store)
        self._owns_embedder = embedder is None
        self.embedder = embedder or Embedder(
            batch_window_ms=settings.scheduling.embed_batch_window_ms,
            max_batch=settings.scheduling.embed_max_batch,
        )
        self.catalog = Catalog([])
        self.fleet = Fleet(settings.fleet)  # replaced in `start()` by the one with every host
        self.fleet_wiring: FleetWiring | None = None
        self.gateway = Gateway(self)
        # Stages the concerns replace with their real components in `start()`.
        self.router: Router = _Starting()
        self.cache: ResponseCache = NoCache()
        self.flights: SingleFlight = NoSingleFlight()
        self.scheduler: Scheduler = NoQueue()
        self.residency: ResidencyProtocol = NoResidency()
        self.spend: Spend = FreeSpend()
        # Built by their factories: the memory curator and the background agents.
        self.memory: Any = None
        self.agents: Any = None
        self.images: ImageService | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        # Set by whoever runs the HTTP server (`roundhoused serve`): asks it to stop gracefully.
        self.request_shutdown: Callable[[], None] | None = None

    async def _backends(self) -> list[Backend]:
        backends: list[Backend] = []
        for entry_point in importlib.metadata.entry_points(group=BACKEND_ENTRY_POINTS):
            try:
                made = entry_point.load()(self)
                if inspect.isawaitable(made):
                    made = await made
                backends.extend(made)
            except Exception:
                log.exception("backend plugin %s failed to start", entry_point.name)
        return backends

    async def start(self) -> None:
        for backend in await self._backends():
            self.catalog.backends[backend.name] = backend
        self.fleet, self.fleet_wiring = fleet_factory.build(self)
        # Each concern builds its component from this object; a dict result names several.
        for attribute, build in (
            ("spend", spend_factory.build),
            ("scheduler", scheduling_factory.build),
            ("cache", cache_factory.build),
            ("residency", residency_factory.build),
            ("router", routing_factory.build),
            ("images", images_factory.build),
            ("memory", memory_factory.build),
            ("agents", agents_factory.build),
        ):
            built = build(self)
            if inspect.isawaitable(built):
                built = await built
            if isinstance(built, dict):
                for name, component in built.items():
                    setattr(self, name, component)
            else:
                setattr(self, attribute, built)
        virtual = getattr(self.router, "virtual_models", None)
        if callable(virtual):
            self.catalog.set_virtual(virtual)
        await self.catalog.refresh(force=True)
        for component in self._components():
            start = getattr(component, "start", None)
            if callable(start):
                result = start()
                if inspect.isawaitable(result):
                    await result
        if not self.embedder.loaded:
            # Ready means ready: the first request that embeds must not wait on the model's load.
            try:
                await asyncio.to_thread(self.embedder.encode, ["warm-up"])
            except Exception:
                log.exception("the embedder could not be loaded; requests will try again")
        # What start-up made lives as long as the daemon: moved out of the collector's sight, a
        # full collection no longer walks hundreds of thousands of module objects mid-request.
        gc.freeze()
        self.ready = True
        log.info(
            "roundhouse %s ready with backends: %s", self.version, ", ".join(self.catalog.backends) or "none"
        )

    def _components(self) -> list[Any]:
        unique: dict[int, Any] = {}
        for component in (
            self.fleet,
            self.spend,
            self.scheduler,
            self.flights,
            self.cache,
            self.residency,
            self.router,
            self.images,
            self.memory,
            self.agents,
        ):
            if component is not None:
                unique[id(component)] = component
        return list(unique.values())

    async def stop(self) -> None:
        self.ready = False
        for component in reversed(self._components()):
            stop = getattr(component, "stop", None)
            if callable(stop):
                try:
                    result = stop()
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("stopping %s failed", type(component).__name__)
        for backend in self.catalog.backends.values():
            try:
                await backend.close()
            except Exception:
                log.exception("closing backend %s failed", backend.name)
        if self._owns_embedder:
            self.embedder.close()
        self.store.close()

    async def status(self) -> dict[str, Any]:
        health = await self.catalog.check_health()
        loaded = []
        for backend in self.catalog.backends.values():
            try:
                loaded.extend(m.id for m in await backend.loaded())
            except Exception as exc:
                log.debug("loaded() failed on %s: %s", backend.name, exc)
        return {
            "version": self.version,
            "uptime_s": round(time.time() - self.started_at, 1),
            "ready": self.ready,
            "endpoint": self.settings.base_url,
            "mode": getattr(self.router, "mode", "hybrid"),
            "backends": {
                name: {"ok": h.ok, "detail": h.detail, "local": self.catalog.backends[name].local}
                for name, h in health.items()
                if name in self.catalog.backends
            },
            "loaded_models": loaded,
        }
