"""The residency manager: reads the GPU, asks the policy, loads and unloads through backends.

Every local request passes `ensure()` (or `hold()`, which also counts it as in flight): a
resident model returns at once; otherwise the request waits in the queue while the policy
decides when loading its model is worth an eviction. Loads are serialized. A reconcile
loop re-reads the GPU and each backend's loaded models every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roundhouse.daemon.agents.builtin.measurements import Figures, MeasurementFeed
from roundhouse.daemon.backends.base import Backend, BackendError
from roundhouse.daemon.models import ChatRequest, LoadedModel, ModelInfo, Priority
from roundhouse.daemon.residency.estimate import (
    Estimate,
    ShapeUnknown,
    estimate,
    shape_from_ollama_show,
)
from roundhouse.daemon.residency.gguf_shapes import SHAPES
from roundhouse.daemon.residency.learned import LearnedFacts
from roundhouse.daemon.residency.pins import PinStore
from roundhouse.daemon.residency.policy import (
    GB,
    Drain,
    Load,
    ModelView,
    PolicyConfig,
    Refuse,
    ResidencyPolicy,
    seconds_until_next_decision,
)
from roundhouse.daemon.residency.readers import MachineReading, Reader, ReaderUnavailable
from roundhouse.daemon.residency.readers.system import SystemMemoryReader
from roundhouse.daemon.residency.settings import ResidencySettings
from roundhouse.daemon.routing.route import Target

log = logging.getLogger(__name__)
_NOTHING_TO_HOLD: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()

# Ollama runner options that force a reload when a request disagrees with the loaded runner.
RUNNER_OPTIONS = frozenset(
    {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "use_mmap",
        "use_mlock",
        "low_vram",
        "numa",
        "f16_kv",
    }
)
# Before a load has been measured: a fixed start-up plus reading the weights at ~1.5 GB/s.
GUESS_START_SECONDS = 1.0
GUESS_BYTES_PER_SECOND = 1.5 * GB
RECONCILE_SETTLE_S = 0.5
MAX_SPILL_RETRIES = 1


@dataclass
class Tracked:
    model: ModelInfo
    backend: Backend
    context: int
    estimate: Estimate | None = None
    resident: bool = False
    size_bytes: int = 0
    size_vram: int = 0
    expires_at: str | None = None
    loaded_at: float = 0.0
    last_used: float = 0.0
    last_ensured: float = -1e18
    in_flight: int = 0
    # (since, interactive) for each request waiting for this model.
    waiting: list[tuple[float, bool]] = field(default_factory=list)
    draining: bool = False
    refusal: str | None = None
    spill_retries: int = 0
    spill_reported: bool = False

    @property
    def spill(self) -> bool:
        return self.resident and 0 < self.size_vram < self.size_bytes


class ModelTooLarge(BackendError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=503, retryable=True, kind="model_too_large")


class ResidencyManager:
    def __init__(
        self,
        settings: ResidencySettings,
        reader: Reader,
        *,
        backends: Callable[[], Mapping[str, Backend]],
        models: Callable[[], list[ModelInfo]] = list,
        publish: Callable[[str, dict[str, Any]], Any] | None = None,
        facts: LearnedFacts | None = None,
        pins: PinStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        measurements: MeasurementFeed | None = None,
        elsewhere: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self.settings = settings
        # Backends on other machines: their memory is theirs, not this machine's GPU (the fleet
        # places work by each host's own memory).
        self._elsewhere = elsewhere
        self.measurements = measurements
        self.reader = reader
        self._backends = backends
        self._models = models
        self._publish = publish or (lambda kind, data: None)
        self.facts = facts or LearnedFacts(None)
        self.clock = clock
        self.pins = pins or PinStore(None)
        self.pinned: set[str] = set(settings.pinned) | self.pins.pinned()
        self.tracked: dict[str, Tracked] = {}
        # Memory kept for other work while it runs (`hold_memory`): holder -> bytes.
        self.reserved: dict[str, int] = {}
        self.reading: MachineReading | None = None
        self.policy = ResidencyPolicy(self._config(capacity=0))
        self.loads = 0
        self.evictions = 0
        self.last_decision = "none yet"
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- configuration ------------------------------------------------------------------------

    def _config(self, capacity: int) -> PolicyConfig:
        s = self.settings
        return PolicyConfig(
            capacity_bytes=capacity,
            max_loaded=s.max_loaded,
            dwell_factor=s.dwell_factor,
            dwell_idle_factor=s.dwell_idle_factor,
            max_wait_s=s.max_wait_s,
            urgent_max_wait_s=s.urgent_max_wait_s,
            idle_rent_ratio=s.idle_rent_ratio,
            release_idle=s.release_idle,
            allow_spill=s.allow_cpu_spill,
        )

    def manages(self, target: Target) -> bool:
        return (
            self.settings.enabled
            and target.model.local
            and target.backend.local
            and getattr(target.backend, "controls_residency", False)
            and target.model.kind == "chat"
            and target.backend.name not in self._elsewhere()
        )

    def runner_options(self, model: ModelInfo) -> dict[str, Any]:
        """The one set of runner options `model` is loaded and run with."""
        options: dict[str, Any] = {"num_ctx": self._context(model)}
        options.update(self.settings.model_options.get(model.id, {}))
        return options

    def pin_runner_options(self, request: ChatRequest, target: Target) -> None:
        """Replace a request's runner options with the model's own, so no client makes Ollama reload it."""
        if not self.manages(target):
            return
        options = {k: v for k, v in request.options.items() if k not in RUNNER_OPTIONS}
        # Requests carry the options the model was loaded with; when the backend cannot load with
        # options, neither side names them and the runner's defaults match.
        if _accepts_options(target.backend):
            options.update(
                {k: v for k, v in self.runner_options(target.model).items() if k in RUNNER_OPTIONS}
            )
        request.options = options
        request.keep_alive = self.settings.keep_alive

    def _context(self, model: ModelInfo) -> int:
        configured = self.settings.model_options.get(model.id, {}).get("num_ctx")
        if configured:
            return int(configured)
        if model.backend == "embedded" and model.context_length:
            return model.context_length
        return self.settings.context_length

    # -- what the GPU can hold ------------------------------------------------------------------

    def _our_pids(self) -> set[int]:
        pids = {os.getpid()}
        if self.reading is not None:
            for gpu in self.reading.gpus:
                pids.update(p.pid for p in gpu.processes if "ollama" in p.name.lower())
        return pids

    def gpu_usage(self) -> list[dict[str, Any]]:
        """Per GPU: total, free, used by Roundhouse's models, used by other apps."""
        if self.reading is None:
            return []
        ours = self._our_pids()
        resident_vram = sum(self._held(t) for t in self.tracked.values() if t.resident)
        rows = []
        for gpu in self.reading.gpus:
            known = [p for p in gpu.processes if p.used_bytes is not None]
            if known:
                by_us = sum(p.used_bytes or 0 for p in known if p.pid in ours)
            else:
                by_us = resident_vram if len(self.reading.gpus) == 1 else 0
            by_us = min(by_us, gpu.used_bytes)
            rows.append(
                {
                    "index": gpu.index,
                    "name": gpu.name,
                    "total_bytes": gpu.total_bytes,
                    "free_bytes": gpu.free_bytes,
                    "used_bytes": gpu.used_bytes,
                    "reserved_bytes": gpu.reserved_bytes,
                    "used_by_roundhouse_bytes": by_us,
                    "used_by_others_bytes": max(0, gpu.used_bytes - by_us),
                    "utilization_pct": gpu.utilization_pct,
                    "processes": [
                        {
                            "pid": p.pid,
                            "name": p.name,
                            "used_bytes": p.used_bytes,
                            "roundhouse": p.pid in ours,
                        }
                        for p in gpu.processes
                    ],
                }
            )
        return rows

    def capacity_bytes(self) -> int:
        """Memory Roundhouse's models may hold: the device minus other apps, headroom and budget."""
        if self.reading is None:
            return 0
        headroom = int(self.settings.headroom_gb * GB)
        if self.reading.gpus:
            total = self.reading.total_bytes
            others = sum(g["used_by_others_bytes"] + g["reserved_bytes"] for g in self.gpu_usage())
        else:
            total = self.reading.ram_total_bytes
            held = sum(self._held(t) for t in self.tracked.values() if t.resident)
            others = max(0, total - self.reading.ram_available_bytes - held)
        capacity = max(0, total - others - headroom - sum(self.reserved.values()))
        if self.settings.vram_budget_gb is not None:
            capacity = min(capacity, int(self.settings.vram_budget_gb * GB))
        return capacity

    def _held(self, t: Tracked) -> int:
        """Bytes a resident model holds of the memory the policy shares out."""
        on_cpu = self.reading is not None and not self.reading.gpus
        if on_cpu:
            return t.size_bytes or self._planned_size(t)
        # With a GPU, a runner with no layers on it (size_vram 0) holds no VRAM.
        return t.size_vram

    def _planned_size(self, t: Tracked) -> int:
        seen = self.facts.size(t.model.id, t.context)
        if seen is not None:
            if seen.size_vram == 0 and self.reading is not None and self.reading.gpus:
                return 0  # its runner keeps no layers on the GPU (e.g. embedded with n_gpu_layers 0)
            return seen.size_bytes
        if t.estimate is not None:
            return t.estimate.total_bytes
        return t.model.size_bytes

    def _load_seconds(self, t: Tracked) -> float:
        learned = self.facts.load_seconds(t.model.id)
        if learned is not None:
            return learned
        return GUESS_START_SECONDS + self._planned_size(t) / GUESS_BYTES_PER_SECOND

    def use_measurements(self, figures: Figures) -> None:
        """The performance analyst's figures: its load times become reload costs (see LearnedFacts)."""
        self.facts.use_measured({m: row["load_s"] for m, row in figures.items() if row.get("load_s")})
        self._notify()

    async def read_machine(self) -> MachineReading:
        """A fresh reading; if the source fails, the last good one (or system RAM) and why."""
        try:
            self.reading = await asyncio.to_thread(self.reader.read)
        except ReaderUnavailable as why:
            log.warning("residency: cannot read the GPU: %s", why)
            if self.reading is None:
                self.reading = SystemMemoryReader([str(why)]).read()
        return self.reading

    # -- estimates ----------------------------------------------------------------------------

    async def estimate_for(self, model: ModelInfo, backend: Backend) -> Estimate:
        context = self._context(model)
        s = self.settings
        shape = None
        try:
            path = Path(model.description) if model.description.endswith(".gguf") else None
            if path is not None and path.is_file():
                shape = await SHAPES.shape_async(path)
            else:
                show = getattr(backend, "show", None)
                if callable(show):
                    shape = shape_from_ollama_show(await show(model.native), model.size_bytes)
        except (ShapeUnknown, BackendError, OSError, ValueError) as why:
            log.info("residency: no shape for %s (%s); estimating from its size", model.id, why)
        return estimate(
            shape,
            weights_bytes=model.size_bytes,
            context=context,
            parallel=s.parallel,
            kv_bytes_per_element=s.kv_bytes_per_element,
        )

    async def track(self, target: Target) -> Tracked:
        """The manager's record of a model, estimated on first sight."""
        return await self._track(target.model, target.backend)

    async def _track(self, model: ModelInfo, backend: Backend) -> Tracked:
        t = self.tracked.get(model.id)
        if t is None:
            t = Tracked(model=model, backend=backend, context=self._context(model))
            self.tracked[model.id] = t
        if t.estimate is None:
            t.estimate = await self.estimate_for(model, backend)
        return t

    # -- the policy's view --------------------------------------------------------------------

    def views(self, now: float) -> list[ModelView]:
        views = []
        for t in self.tracked.values():
            recently_handed = now - t.last_ensured < self.settings.ensure_grace_s
            views.append(
                ModelView(
                    model_id=t.model.id,
                    size_bytes=self._held(t) if t.resident else self._planned_size(t),
                    load_seconds=self._load_seconds(t),
                    resident=t.resident,
                    pinned=t.model.id in self.pinned,
                    in_flight=t.in_flight + (1 if t.resident and recently_handed else 0),
                    queued=len(t.waiting),
                    oldest_wait_s=now - min(w[0] for w in t.waiting) if t.waiting else 0.0,
                    oldest_urgent_wait_s=max((now - w[0] for w in t.waiting if w[1]), default=-1.0),
                    last_used=t.last_used,
                    loaded_at=t.loaded_at,
                    draining=t.draining,
                )
            )
        return views

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def wake(self) -> None:
        """Re-decide now: settings changed (headroom, spill) or something outside moved."""
        self._notify()

    # -- the request path ---------------------------------------------------------------------

    async def ensure(self, target: Target, priority: Priority = Priority.INTERACTIVE) -> None:
        """Return once `target.model` is resident; wait in the queue while it cannot be yet."""
        if not self.manages(target):
            return
        t = await self._track(target.model, target.backend)
        now = self.clock()
        self.policy.record_use(
            t.model.id, now, load_seconds=self._load_seconds(t), size_bytes=self._planned_size(t)
        )
        if t.resident and not t.draining:
            t.last_used = t.last_ensured = now
            return
        ticket = (now, priority <= Priority.INTERACTIVE)
        t.waiting.append(ticket)
        try:
            while not (t.resident and not t.draining):
                changed = self._changed
                await self.step()
                if t.refusal is not None:
                    raise ModelTooLarge(t.refusal)
                if t.resident and not t.draining:
                    break
                wait = seconds_until_next_decision(self.policy, self.clock(), self.views(self.clock()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=wait)
        finally:
            t.waiting.remove(ticket)
            if not t.waiting:
                t.refusal = None
        t.last_used = t.last_ensured = self.clock()

    @contextlib.asynccontextmanager
    async def hold_memory(self, nbytes: int, *, holder: str) -> AsyncIterator[list[str]]:
        """Keep `nbytes` of the GPU for work that is not a text model (an image job in ComfyUI)
        while the block runs: idle text models are unloaded, least recently used first, until
        it fits, and no text model is loaded into that room meanwhile. Yields what it evicted."""
        evicted: list[str] = []
        self.reserved[holder] = nbytes
        try:
            async with self._lock:
                await self.read_machine()
                room = self.capacity_bytes() - sum(self._held(t) for t in self.tracked.values() if t.resident)
                idle = [
                    t
                    for t in self.tracked.values()
                    if t.resident and t.in_flight == 0 and not t.waiting and t.model.id not in self.pinned
                ]
                for t in sorted(idle, key=lambda t: t.last_used):
                    if room >= 0:
                        break
                    held = self._held(t)
                    try:
                        await self._unload(t, reason=f"room for {holder}")
                    except BackendError as why:  # that backend is away: try the next model
                        log.warning("residency: could not unload %s for %s: %s", t.model.id, holder, why)
                        continue
                    room += held
                    evicted.append(t.model.id)
                self.last_decision = f"kept {nbytes / GB:.1f} GB for {holder}" + (
                    f", evicting {', '.join(evicted)}" if evicted else ""
                )
            self._publish("residency.reserve", {"holder": holder, "bytes": nbytes, "evicted": evicted})
            yield evicted
        finally:
            self.reserved.pop(holder, None)
            self._notify()

    def hold(
        self, target: Target, request: ChatRequest | None = None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """`ensure()`, then count the request as in flight until the block ends."""
        if not self.manages(target):
            return _NOTHING_TO_HOLD  # another server's memory: nothing to ensure or count
        return self._hold(target, request)

    @contextlib.asynccontextmanager
    async def _hold(self, target: Target, request: ChatRequest | None) -> AsyncIterator[None]:
        if request is not None:
            self.pin_runner_options(request, target)
        await self.ensure(target, request.priority if request is not None else Priority.INTERACTIVE)
        t = self.tracked.get(target.model.id)  # `hold` only comes here for managed models
        if t is not None:
            t.in_flight += 1
            # The in-flight count is exact here: no need for ensure()'s grace period.
            t.last_ensured = -1e18
        try:
            yield
        finally:
            if t is not None:
                t.in_flight -= 1
                t.last_used = self.clock()
                self._notify()

    async def step(self) -> None:
        """One decision: load, evict, drain or wait. Serialized: one load at a time."""
        async with self._lock:
            if self.reading is None:
                await self.read_machine()
            self.policy.config = self._config(self.capacity_bytes())
            now = self.clock()
            decision = self.policy.decide(now, self.views(now))
            self.last_decision = str(decision)
            changed = False
            draining = set(decision.model_ids) if isinstance(decision, Drain) else set()
            for t in self.tracked.values():
                if t.draining != (t.model.id in draining):
                    t.draining, changed = t.model.id in draining, True
                    if t.draining and isinstance(decision, Drain):
                        self._publish("residency.drain", {"model": t.model.id, "for": decision.for_model})
            if isinstance(decision, Refuse):
                self.tracked[decision.model_id].refusal = decision.reason
                self._publish("residency.refuse", {"model": decision.model_id, "reason": decision.reason})
                changed = True
            if isinstance(decision, Load):
                changed = True
                for victim in decision.evict:
                    await self._unload(self.tracked[victim], reason=f"evicted for {decision.model_id}")
                await self._load(self.tracked[decision.model_id], spill=decision.spill)
        # Waking the other waiters only on a change keeps them from waking each other forever.
        if changed:
            self._notify()

    # -- actions ------------------------------------------------------------------------------

    async def _load(self, t: Tracked, *, spill: bool = False, reason: str = "requested") -> None:
        free_before = self.reading.free_bytes if self.reading else 0
        started = time.perf_counter()
        if _accepts_options(t.backend):
            await t.backend.load(  # type: ignore[call-arg]
                t.model, keep_alive=self.settings.keep_alive, options=self.runner_options(t.model)
            )
        else:
            await t.backend.load(t.model, keep_alive=self.settings.keep_alive)
        seconds = time.perf_counter() - started
        measured = getattr(t.backend, "load_seconds", None)
        if callable(measured):
            seconds = measured(t.model.native) or seconds
        now = self.clock()
        t.resident, t.loaded_at, t.last_used, t.spill_reported = True, now, now, False
        self.loads += 1
        row = await self._loaded_row(t)
        await self.read_machine()
        delta = max(0, free_before - (self.reading.free_bytes if self.reading else 0))
        if row is not None:
            t.size_bytes, t.expires_at = row.size_bytes, row.expires_at
            if self.reading is not None and (self.reading.unified or not self.reading.gpus):
                # No separate VRAM here: the model sits in the memory we plan with, so no spill.
                t.size_vram = row.size_vram or row.size_bytes
            else:
                t.size_vram = row.size_vram or delta
        else:
            t.size_bytes = t.size_vram = delta or self._planned_size(t)
        await self.facts.record(
            t.model.id, t.context, size_bytes=t.size_bytes, size_vram=t.size_vram, load_seconds=seconds
        )
        self._publish(
            "residency.load",
            {
                "model": t.model.id,
                "backend": t.backend.name,
                "seconds": round(seconds, 3),
                "size_bytes": t.size_bytes,
                "size_vram": t.size_vram,
                "estimate_bytes": t.estimate.total_bytes if t.estimate else None,
                "spill_allowed": spill,
                "reason": reason,
            },
        )
        self._report_spill(t)
        if t.spill and not (spill or self.settings.allow_cpu_spill):
            await self._undo_spill(t)
        elif not t.spill:
            t.spill_retries = 0

    async def _undo_spill(self, t: Tracked) -> None:
        """No silent spill: unload, and let the next decision plan with the size really needed.

        A second spill in a row means the backend sees less room than we do: refuse instead.
        """
        on_cpu = (t.size_bytes - t.size_vram) / GB
        await self._unload(t, reason="spilled to system RAM and partial CPU spill is off")
        t.spill_retries += 1
        if t.spill_retries > MAX_SPILL_RETRIES:
            t.spill_retries = 0
            t.refusal = (
                f"{t.model.id} does not fit on the GPU: {on_cpu:.1f} GB of {t.size_bytes / GB:.1f} GB "
                "would run from system RAM, and partial CPU spill is off"
            )
            self._publish("residency.refuse", {"model": t.model.id, "reason": t.refusal})

    async def _unload(self, t: Tracked, *, reason: str) -> None:
        await t.backend.unload(t.model)
        t.resident, t.size_vram, t.expires_at = False, 0, None
        self.policy.record_eviction(t.model.id)
        self.evictions += 1
        self._publish("residency.unload", {"model": t.model.id, "backend": t.backend.name, "reason": reason})

    async def _loaded_row(self, t: Tracked) -> LoadedModel | None:
        try:
            rows = await t.backend.loaded()
        except BackendError:
            return None
        return next((r for r in rows if r.native == t.model.native), None)

    def _report_spill(self, t: Tracked) -> None:
        if t.spill and not t.spill_reported:
            t.spill_reported = True
            self._publish(
                "residency.spill",
                {
                    "model": t.model.id,
                    "size_bytes": t.size_bytes,
                    "size_vram": t.size_vram,
                    "detail": f"{t.model.id}: {(t.size_bytes - t.size_vram) / GB:.1f} GB of "
                    f"{t.size_bytes / GB:.1f} GB runs from system RAM (slow)",
                },
            )

    # -- user actions (control API) ---------------------------------------------------------------

    async def pin(self, target: Target) -> None:
        await self._track(target.model, target.backend)
        self.pinned.add(target.model.id)
        await self.pins.set(target.model.id, True)
        self._publish("residency.pin", {"model": target.model.id})
        self._notify()

    async def unpin(self, target: Target) -> None:
        await self._track(target.model, target.backend)
        self.pinned.discard(target.model.id)
        await self.pins.set(target.model.id, False)
        self._publish("residency.unpin", {"model": target.model.id})
        self._notify()

    async def unload(self, target: Target) -> bool:
        """Unload now (a pinned model is unpinned first). False if it was not loaded."""
        if not self.manages(target):
            await target.backend.unload(target.model)
            return True
        t = await self._track(target.model, target.backend)
        async with self._lock:
            if not t.resident:
                return False
            if t.model.id in self.pinned:
                self.pinned.discard(t.model.id)
                await self.pins.set(t.model.id, False)
            await self._unload(t, reason="asked by the user")
        self._notify()
        return True

    async def preload(self, target: Target, keep_alive: str | float | None = None) -> None:
        """Load now if it fits without evicting a busy model; raises ModelTooLarge otherwise.
        A model residency manages keeps its own keep-alive; `keep_alive` is for the others."""
        if not self.manages(target):
            await target.backend.load(target.model, keep_alive)
            return
        t = await self._track(target.model, target.backend)
        async with self._lock:
            if t.resident:
                return
            await self.read_machine()
            self.policy.config = self._config(self.capacity_bytes())
            now = self.clock()
            views = self.views(now)
            want = next(v for v in views if v.model_id == t.model.id)
            if not self.policy.fits_at_all(want, views):
                raise ModelTooLarge(
                    f"{t.model.id} needs {want.size_bytes / GB:.1f} GB; "
                    f"{self.policy.config.capacity_bytes / GB:.1f} GB is available to models"
                )
            victims = self.policy.victims(want, [v for v in views if v.resident], now, idle_only=True)
            if victims is None:
                raise ModelTooLarge(f"{t.model.id} does not fit until models in use finish")
            for victim in victims:
                await self._unload(self.tracked[victim.model_id], reason=f"evicted for {t.model.id}")
            await self._load(t, reason="preload")
        self._notify()

    # -- reconcile ------------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Re-read the GPU and every managed backend's loaded models; release, serve, preload."""
        await self.read_machine()
        now = self.clock()
        # Under the lock: a listing taken while a load is under way would mark that model gone.
        async with self._lock:
            await self._sync_backends()
            self.policy.config = self._config(self.capacity_bytes())
            for model_id in self.policy.expired(now, self.views(now)):
                t = self.tracked[model_id]
                await self._unload(t, reason="idle past its reload cost")
        if any(t.waiting for t in self.tracked.values()):
            with contextlib.suppress(BackendError):
                await self.step()
        elif self.settings.preload:
            await self._preload_idle()
        self._notify()

    async def _sync_backends(self) -> None:
        local = {name: b for name, b in self._backends().items() if b.local}
        known = {m.id: m for m in self._models() if m.local and m.kind == "chat"}
        for name, backend in local.items():
            try:
                rows = await backend.loaded()
            except BackendError as why:
                log.info("residency: cannot read loaded models of %s: %s", name, why)
                continue
            seen = {r.native: r for r in rows}
            for row in rows:
                model = known.get(row.id) or ModelInfo(
                    id=row.id, backend=name, native=row.native, local=True, size_bytes=row.size_bytes
                )
                t = self.tracked.get(model.id) or await self._track(model, backend)
                if not t.resident:
                    t.resident, t.loaded_at, t.last_used = True, self.clock(), self.clock()
                    self._publish("residency.found", {"model": t.model.id, "size_vram": row.size_vram})
                t.size_bytes, t.size_vram, t.expires_at = row.size_bytes, row.size_vram, row.expires_at
                self._report_spill(t)
            for t in self.tracked.values():
                if t.backend is backend and t.resident and t.model.native not in seen and t.in_flight == 0:
                    t.resident, t.size_vram = False, 0
                    self._publish(
                        "residency.gone", {"model": t.model.id, "reason": "no longer loaded on the backend"}
                    )
        for model_id in self.pinned:
            model = known.get(model_id)
            if model is not None and model_id not in self.tracked:
                backend = local.get(model.backend)
                if backend is not None:
                    await self._track(model, backend)

    async def _preload_idle(self) -> None:
        async with self._lock:
            now = self.clock()
            wanted = self.policy.preload(now, self.views(now))
            if wanted is not None:
                with contextlib.suppress(BackendError):
                    await self._load(self.tracked[wanted], reason="preload while idle")

    async def _loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("residency: reconcile failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=self.settings.reconcile_interval_s)
                # Woken by an event: let a burst of them settle into one reconcile.
                await asyncio.sleep(RECONCILE_SETTLE_S)

    async def start(self) -> None:
        # Before the daemon says it is ready: the first request must not wait on a header read.
        for model in self._models():
            path = Path(model.description) if model.description.endswith(".gguf") else None
            if model.local and path is not None and path.is_file():
                try:
                    await SHAPES.shape_async(path)
                except (ShapeUnknown, OSError, ValueError) as why:
                    log.info("residency: no shape for %s (%s)", model.id, why)
        if self.measurements is not None:
            await self.measurements.start(self.use_measurements)
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="residency-reconcile")

    async def stop(self) -> None:
        if self.measurements is not None:
            await self.measurements.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.reader.close)

    # -- for routing ------------------------------------------------------------------------------

    def resident_models(self) -> set[str]:
        """Ids of the models loaded now (no I/O: the last reconcile's view), for residency-aware routing."""
        return {model_id for model_id, t in self.tracked.items() if t.resident}

    def load_cost_s(self, model_id: str) -> float:
        """Seconds a request for `model_id` would wait for its load (0 when resident or unknown)."""
        t = self.tracked.get(model_id)
        return 0.0 if t is None or t.resident else self._load_seconds(t)

    # -- status -----------------------------------------------------------------------------------

    def model_status(self, t: Tracked) -> dict[str, Any]:
        now = self.clock()
        return {
            "id": t.model.id,
            "backend": t.backend.name,
            "resident": t.resident,
            "pinned": t.model.id in self.pinned,
            "size_bytes": t.size_bytes if t.resident else self._planned_size(t),
            "size_vram": t.size_vram if t.resident else 0,
            "spill": t.spill,
            "expires_at": t.expires_at,
            "context": t.context,
            "runner_options": self.runner_options(t.model),
            "in_flight": t.in_flight,
            "queued": len(t.waiting),
            "draining": t.draining,
            "load_seconds": round(self._load_seconds(t), 3),
            "load_seconds_source": self.facts.load_source(t.model.id) or "estimated",
            "learned": self.facts.size(t.model.id, t.context) is not None,
            "estimate": t.estimate.as_dict() if t.estimate else None,
            "uses": round(self.policy.uses(t.model.id, now), 3),
        }

    async def status(self) -> dict[str, Any]:
        reading = self.reading or await self.read_machine()
        return {
            "enabled": self.settings.enabled,
            "source": reading.source,
            "detail": reading.detail,
            "driver": reading.driver,
            "unified_memory": reading.unified,
            "gpus": self.gpu_usage(),
            "ram_total_bytes": reading.ram_total_bytes,
            "ram_available_bytes": reading.ram_available_bytes,
            "capacity_bytes": self.capacity_bytes(),
            "headroom_bytes": int(self.settings.headroom_gb * GB),
            "budget_bytes": int(self.settings.vram_budget_gb * GB) if self.settings.vram_budget_gb else None,
            "allow_cpu_spill": self.settings.allow_cpu_spill,
            "pinned": sorted(self.pinned),
            "reserved_for": dict(self.reserved),
            "models": [self.model_status(t) for t in self.tracked.values()],
            "loads": self.loads,
            "evictions": self.evictions,
            "last_decision": self.last_decision,
            "gguf_header_reads": dict(SHAPES.reads),
        }


def _accepts_options(backend: Backend) -> bool:
    """Whether `backend.load` takes runner options (`load(model, keep_alive, options)`)."""
    try:
        return "options" in inspect.signature(backend.load).parameters
    except (TypeError, ValueError):
        return False
