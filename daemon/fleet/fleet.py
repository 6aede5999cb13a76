"""The fleet: every host that serves models, what each has loaded, and where a request goes.

Each host is a backend of the catalog under its own name (so the route headers and the ledger
name the host). The fleet adds what no single backend knows: that `llama3.1:8b` on two hosts is
one model with two placements, which placement a request should take (placement.py), how busy
and how fast each host is, and which hosts are down. A host that stops answering is drained:
no request is placed there until a look at it succeeds again, and requests that had not
started streaming go to the next placement (the gateway's attempt loop), never to the cloud
when they are private (a placement of a local model is on a local host).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from roundhouse.daemon.backends.base import Backend, BackendError
from roundhouse.daemon.fleet import drive, placement, probes
from roundhouse.daemon.fleet.hosts import HostKind, HostSettings
from roundhouse.daemon.fleet.reading import HostReading
from roundhouse.daemon.fleet.settings import FleetSettings
from roundhouse.daemon.models import ModelInfo
from roundhouse.daemon.routing.route import Route, Target

log = logging.getLogger(__name__)
Origin = Literal["config", "added", "built-in"]
State = Literal["up", "down", "unknown"]
# How fast the measured time per answer follows new answers.
SERVICE_SMOOTHING = 0.3
# Errors that say the host itself is gone, not that this request was wrong for it. A timeout
# is not one: a long prefill or a cold load on a busy host would drain it for every model (the
# fallback policy cools that one deployment instead).
HOST_DOWN_KINDS = frozenset({"unreachable"})
# A placement that never started an attempt (a cache hit, a refusal) stops counting after this.
PLACED_TTL_S = 2.0


def model_key(model: ModelInfo) -> str:
    """What makes two hosts' models the same model: the engine's name without `:latest`."""
    return model.native.removesuffix(":latest")


@dataclass(slots=True)
class Host:
    settings: HostSettings
    origin: Origin
    backend: Backend
    api_key: str | None = None
    reading: HostReading | None = None
    state: State = "unknown"
    in_flight: int = 0
    service_s: float | None = None
    requests: int = 0
    failures: int = 0
    last_error: str = ""
    checked_at: float = 0.0
    # For engines that do not say what they hold: what this daemon last had them serve.
    served: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # When requests were placed here that have not started their attempt yet: requests that
    # arrive together see each other's placements, and do not all pile onto one host.
    placed: deque[tuple[float, str, int]] = field(default_factory=deque)  # when, model key, bytes
    sizes: dict[str, int] = field(default_factory=dict)  # model key: bytes, as last placed
    busy: Counter[str] = field(default_factory=Counter)  # requests running, per model
    used_at: dict[str, float] = field(default_factory=dict)  # when each model last finished one
    room: asyncio.Lock = field(default_factory=asyncio.Lock)  # one eviction plan at a time

    @property
    def name(self) -> str:
        return self.settings.name

    def resident_keys(self) -> frozenset[str]:
        """What the host holds now, by its engine's word or, where it says nothing, by what
        it last served."""
        if self.reading is not None and self.reading.loaded:
            return frozenset(name.removesuffix(":latest") for name in self.reading.loaded)
        return frozenset(self.served)

    def coming(self, now: float) -> dict[str, int]:
        """Models the requests placed or running there will have loaded, that it does not
        hold yet (key: bytes)."""
        self.pending(now)
        wanted = {key: size for _, key, size in self.placed}
        wanted.update({key: self.sizes.get(key, 0) for key, n in self.busy.items() if n > 0})
        resident = self.resident_keys()
        return {key: size for key, size in wanted.items() if key not in resident}

    def free_bytes(self) -> int | None:
        if self.reading is not None and self.reading.memory_free_bytes is not None:
            return self.reading.memory_free_bytes
        return None

    def pending(self, now: float) -> int:
        while self.placed and self.placed[0][0] < now - PLACED_TTL_S:
            self.placed.popleft()
        return len(self.placed)

    def view(self, now: float) -> placement.HostView:
        waiting = self.reading.waiting + self.reading.running if self.reading is not None else 0
        coming = self.coming(now)
        free = self.free_bytes()
        if free is not None:
            free = max(0, free - sum(coming.values()))
        loaded = self.resident_keys() | frozenset(coming)
        return placement.HostView(
            name=self.name,
            up=self.state != "down",
            loaded=loaded,
            full=self.settings.max_loaded is not None and len(loaded) >= self.settings.max_loaded,
            free_bytes=free,
            queue=self.in_flight + self.pending(now) + waiting,
            parallel=self.settings.parallel,
            service_s=self.service_s,
            # A server that manages its own memory serves whatever it lists, unless the user said
            # how many models it holds at once (llama_cpp.server, LM Studio load on demand).
            manages_memory=not self.settings.driven and self.settings.max_loaded is None,
        )

    def remember_served(self, key: str) -> None:
        self.served.pop(key, None)
        self.served[key] = None
        limit = self.settings.max_loaded or 1
        while len(self.served) > limit:
            self.served.popitem(last=False)

    def row(self) -> dict[str, Any]:
        reading = self.reading or HostReading(ok=False, detail="not looked at yet")
        loaded = reading.loaded or {key: 0 for key in self.served}
        return {
            "name": self.name,
            "url": self.settings.url,
            "kind": self.settings.kind,
            "local": self.settings.local,
            "origin": self.origin,
            "state": self.state,
            "detail": self.last_error if self.state == "down" and self.last_error else reading.detail,
            "loaded": [{"model": name, "bytes": size} for name, size in loaded.items()],
            "models": list(reading.models),
            "memory_total_bytes": reading.memory_total_bytes,
            "memory_free_bytes": reading.memory_free_bytes,
            "queue": self.in_flight + reading.waiting,
            "latency_ms": reading.latency_ms,
            "service_s": round(self.service_s, 3) if self.service_s is not None else None,
            "driven": self.settings.driven,
            "has_key": self.settings.has_key,
            "requests": self.requests,
            "failures": self.failures,
        }


class Fleet:
    def __init__(
        self,
        settings: FleetSettings,
        *,
        publish: Callable[[str, dict[str, Any]], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.hosts: dict[str, Host] = {}
        self._publish = publish or (lambda kind, data: None)
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self.evictions = 0
        self._wake = asyncio.Event()
        # Set by the composition root: keeps the catalog's backends and the registry in step.
        self.sync: Callable[[], Any] | None = None

    # -- membership ---------------------------------------------------------------------------

    def add(self, host: Host) -> None:
        self.hosts[host.name] = host

    def remove(self, name: str) -> Host | None:
        return self.hosts.pop(name, None)

    def host_of(self, target: Target) -> Host | None:
        return self.hosts.get(target.backend.name)

    # -- placement ----------------------------------------------------------------------------

    def placements(
        self, model: ModelInfo, models: Iterable[ModelInfo], backends: dict[str, Backend]
    ) -> list[Target]:
        """Every host's copy of `model` (the asked-for one first), local beside local only."""
        key = model_key(model)
        found = [Target(model, backends[model.backend])] if model.backend in backends else []
        for other in models:
            if (
                other.id != model.id
                and other.kind == model.kind
                and other.local == model.local
                and other.backend in self.hosts
                and other.backend in backends
                and model_key(other) == key
            ):
                found.append(Target(other, backends[other.backend]))
        return found

    def place(self, route: Route, models: Iterable[ModelInfo], backends: dict[str, Backend]) -> Route:
        """The route re-pointed at the best placement of its model, the other placements first
        among its fallbacks. A model on one host only keeps its route as it is."""
        if not self.settings.enabled or route.model.virtual or route.model.backend not in self.hosts:
            return route
        targets = self.placements(route.model, models, backends)
        if len(targets) < 2:
            return route
        by_host = {t.backend.name: t for t in targets}
        now = self._clock()
        views = {name: host.view(now) for name, host in self.hosts.items() if name in by_host}
        ranked = placement.rank(
            [placement.Candidate(t.backend.name, model_key(t.model), t.model.size_bytes) for t in targets],
            views,
        )
        ordered = [by_host[r.candidate.host] for r in ranked if r.up]
        if not ordered:  # every placement is down: try them anyway, and say so when they fail
            ordered = [by_host[r.candidate.host] for r in ranked]
        placed_on = {t.backend.name for t in ordered}
        rest = [
            f
            for f in route.fallbacks
            if f.backend.name not in placed_on or model_key(f.model) != model_key(route.model)
        ]
        reasons = [*route.reasons, ranked[0].reason()]
        skipped = [r.candidate.host for r in ranked if not r.up]
        if skipped:
            reasons.append(f"skipped host(s) down: {', '.join(skipped)}")
        chosen = ordered[0]
        host = self.hosts[chosen.backend.name]
        key = model_key(chosen.model)
        host.placed.append((now, key, chosen.model.size_bytes))
        host.sizes[key] = chosen.model.size_bytes
        return dataclasses.replace(route, target=ordered[0], fallbacks=[*ordered[1:], *rest], reasons=reasons)

    # -- what requests tell about hosts -------------------------------------------------------

    @contextlib.asynccontextmanager
    async def attempt(self, target: Target) -> AsyncIterator[None]:
        """One attempt on `target`'s host: counted in its queue while it runs; a failure that
        says the host is gone drains it at once, so the next request goes elsewhere."""
        host = self.hosts.get(target.backend.name)
        if host is None:
            yield
            return
        started = self._clock()
        key = model_key(target.model)
        for placed in host.placed:  # this request's placement: it runs now, it waits no more
            if placed[1] == key:
                host.placed.remove(placed)
                break
        host.in_flight += 1
        host.requests += 1
        host.busy[key] += 1
        host.sizes[key] = target.model.size_bytes
        try:
            await self._make_room(host, target)
            yield
        except BackendError as exc:
            host.failures += 1
            if exc.kind in HOST_DOWN_KINDS:
                self._mark_down(host, str(exc))
            raise
        else:
            took = self._clock() - started
            host.service_s = (
                took
                if host.service_s is None
                else ((1 - SERVICE_SMOOTHING) * host.service_s + SERVICE_SMOOTHING * took)
            )
            if key not in host.resident_keys():
                self._wake.set()  # it holds a model it did not a moment ago: look again now
            host.remember_served(key)
            if host.state != "up":
                host.state = "up"
        finally:
            host.in_flight -= 1
            host.busy[key] -= 1
            host.used_at[key] = self._clock()

    def plans_memory(self, host: Host) -> bool:
        """Whether the fleet decides what `host` holds: a host it may drive whose memory or
        number of models is declared (`memory_gb`, `max_loaded`). This machine's own GPU is the
        residency manager's."""
        declared = host.settings.memory_gb is not None or host.settings.max_loaded is not None
        return host.settings.driven and declared and host.origin != "built-in"

    async def _make_room(self, host: Host, target: Target) -> None:
        """Before a model that does not fit is loaded on a host the fleet plans, unload the
        models there that no request is using, least recently used first, until it fits: in
        its declared memory, and within the models it may hold at once."""
        if not self.plans_memory(host) or host.reading is None:
            return
        key = model_key(target.model)
        size = target.model.size_bytes
        if key in host.resident_keys():
            return  # the usual case: no need to wait on another request's eviction
        async with host.room:
            if key in host.resident_keys() or not _crowded(host, key, size, self._clock()):
                return
            idle = [name for name in host.reading.loaded if host.busy[name.removesuffix(":latest")] == 0]
            idle.sort(key=lambda name: host.used_at.get(name.removesuffix(":latest"), 0.0))
            for name in idle:
                if self._client is None:
                    self._client = httpx.AsyncClient(timeout=self.settings.probe_timeout_s)
                if not await drive.unload(host.settings, self._client, name, host.api_key):
                    continue
                self.evictions += 1
                log.info("fleet: unloaded %s on %s to make room for %s", name, host.name, target.model.id)
                self._publish("fleet.evicted", {"host": host.name, "model": name, "for": target.model.id})
                await self.look(host)
                if not _crowded(host, key, size, self._clock()):
                    return

    def _mark_down(self, host: Host, why: str) -> None:
        was = host.state
        host.state = "down"
        host.last_error = why
        if was != "down":
            log.warning("fleet: host %s is down (%s); its requests go to other placements", host.name, why)
            self._publish("fleet.host", {"host": host.name, "state": "down", "detail": why})
        self._wake.set()

    # -- looking at hosts ---------------------------------------------------------------------

    async def look(self, host: Host) -> HostReading:
        if host.origin == "built-in":
            reading = await _read_backend(host.backend)
        else:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self.settings.probe_timeout_s)
            reading = await probes.probe(host.settings, self._client, host.api_key)
        host.reading = reading if reading.ok else (host.reading or reading)
        host.checked_at = self._clock()
        was = host.state
        if reading.ok:
            host.state = "up"
            host.last_error = ""
            if reading.loaded:
                host.served.clear()
        else:
            host.state = "down"
            host.last_error = reading.detail
        if was != host.state:
            if host.state == "up" and was == "down":
                log.info("fleet: host %s is back", host.name)
            self._publish("fleet.host", {"host": host.name, "state": host.state, "detail": reading.detail})
        return reading

    async def look_all(self) -> None:
        if self.sync is not None:
            result = self.sync()
            if asyncio.iscoroutine(result):
                await result
        await asyncio.gather(*(self.look(h) for h in list(self.hosts.values())), return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.look_all()
            except Exception:
                log.exception("fleet: looking at the hosts failed")
            # A host that went down is looked at again soon, to bring it back quickly.
            poll = self.settings.poll_s
            if any(h.state == "down" for h in self.hosts.values()):
                poll = min(poll, 1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)

    async def start(self) -> None:
        await self.look_all()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    def elsewhere(self) -> frozenset[str]:
        """The hosts whose memory is not this machine's GPU's to share out: on other machines,
        or with their own declared memory."""
        return frozenset(
            name
            for name, host in self.hosts.items()
            if not host.settings.on_this_machine or self.plans_memory(host)
        )

    def status(self) -> list[dict[str, Any]]:
        return [host.row() for host in self.hosts.values()]


def _crowded(host: Host, key: str, size_bytes: int, now: float) -> bool:
    """Whether model `key` of `size_bytes` needs room made on `host` first, counting what the
    other requests running or placed there are loading."""
    coming = {k: b for k, b in host.coming(now).items() if k != key}
    free = host.free_bytes()
    if free is not None and size_bytes > free - sum(coming.values()):
        return True
    limit = host.settings.max_loaded
    return limit is not None and len(host.resident_keys() | frozenset(coming)) >= limit


async def _read_backend(backend: Backend) -> HostReading:
    """A built-in backend's own account of itself (the embedded model, Ollama on this machine,
    the endpoints of `[[openai_compat]]`)."""
    started = time.perf_counter()
    try:
        health = await backend.health()
        loaded = await backend.loaded() if health.ok else []
    except BackendError as exc:
        return HostReading(ok=False, detail=str(exc))
    return HostReading(
        ok=health.ok,
        detail=health.detail,
        loaded={m.native: m.size_vram or m.size_bytes for m in loaded},
        memory_used_bytes=sum(m.size_bytes for m in loaded) or None,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def built_in_settings(backend: Backend, url: str, kind: HostKind) -> HostSettings:
    """A HostSettings for a backend Roundhouse had before hosts existed; not validated as a
    user's name would be (they are named `ollama`, `ollama-2`, an endpoint's own name)."""
    return HostSettings.model_construct(
        name=backend.name,
        url=url,
        kind=kind,
        local=backend.local,
        memory_gb=None,
        max_loaded=None,
        parallel=1,
        has_key=False,
    )
