"""Which models to load, keep and evict: pure decisions over a snapshot of the GPU.

No I/O and no clock of its own: the caller (the manager, or bench/residency_sim.py) passes the
time and what it knows about every model, and carries out the decision.

The ideas, in order of how much they save:

- A model that must wait for memory *waits in the queue* instead of evicting a busy model or
  one that has only just been loaded: a load is only worth paying for when the model it
  displaces has had the GPU long enough to amortise its own load (`dwell_factor` times its
  measured load time) or has gone quiet. `max_wait_s` bounds how long anything waits: past
  it, the models in the way are drained (they take no new requests) and then evicted.
- Eviction values a resident model GreedyDual-Size-Frequency style: uses × reload seconds per
  GB held, plus an inflation clock so old popularity fades. Models idle past their
  ski-rental break-even (idle longer than `idle_rent_ratio` × their reload time) go first.
- Pinned models are never evicted; a budget and a headroom cap what Roundhouse may use; a
  model that cannot fit on the GPU is refused unless partial CPU spill is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

GB = 1024**3


@dataclass(slots=True)
class ModelView:
    """What the policy knows about one model at one moment."""

    model_id: str
    size_bytes: int
    load_seconds: float
    resident: bool = False
    pinned: bool = False
    in_flight: int = 0
    # Requests waiting for this model (not yet running).
    queued: int = 0
    # How long the oldest of those has waited, in seconds.
    oldest_wait_s: float = 0.0
    # The same for interactive requests only; negative when none waits.
    oldest_urgent_wait_s: float = -1.0
    last_used: float = 0.0
    loaded_at: float = 0.0
    draining: bool = False

    @property
    def busy(self) -> bool:
        # A draining model's queued requests wait for its reload; they do not keep it busy.
        return self.in_flight > 0 or (self.resident and self.queued > 0 and not self.draining)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    capacity_bytes: int
    max_loaded: int | None = None
    # A freshly loaded model keeps the GPU for at least this many times its load time while used.
    dwell_factor: float = 25.0
    # ...unless it has been idle this many times its load time.
    dwell_idle_factor: float = 6.0
    # Nothing waits longer than this for memory before the models in its way are drained.
    max_wait_s: float = 120.0
    # Interactive requests skip the dwell protection at once and drain busy models after this.
    urgent_max_wait_s: float = 2.0
    # Ski rental: an idle model is worth keeping while idle_time < idle_rent_ratio × reload time.
    idle_rent_ratio: float = 120.0
    # Also unload idle models past their break-even when nothing needs the memory, giving the
    # VRAM back to other apps. Off by default: under pressure they are already evicted first.
    release_idle: bool = False
    allow_spill: bool = False
    # Half-life of the use counter, so a model popular last week does not squat on the GPU.
    frequency_half_life_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class Load:
    model_id: str
    evict: tuple[str, ...] = ()
    spill: bool = False


@dataclass(frozen=True, slots=True)
class Drain:
    """Stop sending new requests to `model_ids` so they go idle and can be evicted for `for_model`."""

    model_ids: tuple[str, ...]
    for_model: str


@dataclass(frozen=True, slots=True)
class Refuse:
    model_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    reason: str


Decision = Load | Drain | Refuse | Wait


@dataclass(slots=True)
class _Usage:
    count: float = 0.0
    at: float = 0.0
    priority: float = 0.0


@dataclass
class ResidencyPolicy:
    config: PolicyConfig
    _usage: dict[str, _Usage] = field(default_factory=dict)
    # GreedyDual inflation clock: the value of the last model evicted.
    _clock: float = 0.0

    # -- bookkeeping -------------------------------------------------------------------------

    def record_use(self, model_id: str, now: float, *, load_seconds: float, size_bytes: int) -> None:
        usage = self._usage.setdefault(model_id, _Usage(at=now))
        usage.count = self.uses(model_id, now) + 1.0
        usage.at = now
        usage.priority = self._clock + usage.count * max(load_seconds, 0.01) / max(size_bytes / GB, 0.01)

    def record_eviction(self, model_id: str) -> None:
        usage = self._usage.get(model_id)
        if usage is not None:
            self._clock = max(self._clock, usage.priority)

    def uses(self, model_id: str, now: float) -> float:
        usage = self._usage.get(model_id)
        if usage is None:
            return 0.0
        decay = 0.5 ** (max(0.0, now - usage.at) / self.config.frequency_half_life_s)
        return usage.count * decay

    def last_use(self, model_id: str) -> float:
        usage = self._usage.get(model_id)
        return usage.at if usage is not None else -math.inf

    def value(self, model: ModelView) -> float:
        """GreedyDual-Size-Frequency priority: low values are evicted first."""
        usage = self._usage.get(model.model_id)
        if usage is None:
            return self._clock
        return usage.priority

    # -- ski rental ------------------------------------------------------------------------------

    def break_even_s(self, model: ModelView) -> float:
        return self.config.idle_rent_ratio * max(model.load_seconds, 0.01)

    def past_break_even(self, model: ModelView, now: float) -> bool:
        return not model.busy and now - model.last_used >= self.break_even_s(model)

    def expired(self, now: float, models: Iterable[ModelView]) -> list[str]:
        """Idle, unpinned resident models to unload now though nothing needs their memory."""
        if not self.config.release_idle:
            return []
        return [
            m.model_id
            for m in models
            if m.resident and not m.pinned and self.past_break_even(m, now) and m.queued == 0
        ]

    # -- the decision ------------------------------------------------------------------------

    def protected(self, model: ModelView, now: float) -> bool:
        """A model whose own load has not been amortised yet, and which is still in use."""
        if model.busy:
            return True
        held = now - model.loaded_at
        idle = now - model.last_used
        return (
            held < self.config.dwell_factor * model.load_seconds
            and idle < self.config.dwell_idle_factor * model.load_seconds
        )

    def eviction_order(self, now: float, candidates: Iterable[ModelView]) -> list[ModelView]:
        return sorted(candidates, key=lambda m: (not self.past_break_even(m, now), self.value(m), m.model_id))

    def victims(
        self, want: ModelView, resident: Sequence[ModelView], now: float, *, idle_only: bool
    ) -> tuple[ModelView, ...] | None:
        """The cheapest set of resident models whose eviction makes room for `want`, or None."""
        free = self.config.capacity_bytes - sum(m.size_bytes for m in resident)
        over_count = 0
        if self.config.max_loaded is not None:
            over_count = max(0, len(resident) + 1 - self.config.max_loaded)
        if free >= want.size_bytes and over_count == 0:
            return ()
        pool = [m for m in resident if not m.pinned and not (idle_only and m.busy)]
        chosen: list[ModelView] = []
        for m in self.eviction_order(now, pool):
            if free >= want.size_bytes and len(chosen) >= over_count:
                break
            chosen.append(m)
            free += m.size_bytes
        if free < want.size_bytes or len(chosen) < over_count:
            return None
        # Drop victims the others already make room for (a small early pick may be unneeded).
        for m in sorted(chosen, key=lambda v: v.size_bytes):
            if free - m.size_bytes >= want.size_bytes and len(chosen) - 1 >= over_count:
                chosen.remove(m)
                free -= m.size_bytes
        return tuple(chosen)

    def fits_at_all(self, want: ModelView, models: Sequence[ModelView]) -> bool:
        pinned = sum(m.size_bytes for m in models if m.pinned and m.resident and m.model_id != want.model_id)
        return want.size_bytes <= self.config.capacity_bytes - pinned

    def decide(self, now: float, models: Sequence[ModelView]) -> Decision:
        resident = [m for m in models if m.resident]
        waiting = sorted(
            (m for m in models if not m.resident and m.queued > 0),
            key=lambda m: (m.oldest_urgent_wait_s < 0, -m.oldest_urgent_wait_s, -m.oldest_wait_s, m.model_id),
        )
        for want in waiting:
            if not self.fits_at_all(want, models):
                if self.config.allow_spill:
                    return Load(
                        want.model_id,
                        tuple(m.model_id for m in resident if not m.busy and not m.pinned),
                        True,
                    )
                return Refuse(
                    want.model_id,
                    f"{want.model_id} needs {want.size_bytes / GB:.1f} GB but at most "
                    f"{self.config.capacity_bytes / GB:.1f} GB of GPU memory is available to models "
                    "(partial CPU spill is off)",
                )
            evict = self.victims(want, resident, now, idle_only=True)
            urgent = want.oldest_urgent_wait_s >= 0
            overdue = want.oldest_wait_s >= self.config.max_wait_s or (
                urgent and want.oldest_urgent_wait_s >= self.config.urgent_max_wait_s
            )
            if evict is not None and (overdue or urgent or not any(self.protected(m, now) for m in evict)):
                return Load(want.model_id, tuple(m.model_id for m in evict))
            if overdue:
                blocking = self.victims(want, resident, now, idle_only=False)
                if blocking:
                    return Drain(tuple(m.model_id for m in blocking), want.model_id)
        if waiting:
            return Wait(f"{waiting[0].model_id} waits for memory held by models still in use")
        return Wait("nothing to load")

    def preload(self, now: float, models: Sequence[ModelView]) -> str | None:
        """When everything is idle: a pinned or likely-next model that fits without evicting."""
        if any(m.busy or m.queued for m in models):
            return None
        resident = [m for m in models if m.resident]
        free = self.config.capacity_bytes - sum(m.size_bytes for m in resident)
        if self.config.max_loaded is not None and len(resident) >= self.config.max_loaded:
            return None
        absent = [m for m in models if not m.resident and m.size_bytes <= free]
        pinned = [m for m in absent if m.pinned]
        if pinned:
            return min(pinned, key=lambda m: m.model_id).model_id
        # Likely next: used recently enough that keeping it would still be worth its reload.
        likely = [
            m
            for m in absent
            if self.uses(m.model_id, now) >= 0.5 and now - self.last_use(m.model_id) < self.break_even_s(m)
        ]
        if not likely:
            return None
        return max(likely, key=lambda m: (self.uses(m.model_id, now), -m.size_bytes)).model_id


def seconds_until_next_decision(policy: ResidencyPolicy, now: float, models: Sequence[ModelView]) -> float:
    """How long a waiter may sleep before the decision could change with no new event."""
    horizon = math.inf
    cfg = policy.config
    for m in models:
        if not m.resident and m.queued:
            horizon = min(horizon, cfg.max_wait_s - m.oldest_wait_s)
            if m.oldest_urgent_wait_s >= 0:
                horizon = min(horizon, cfg.urgent_max_wait_s - m.oldest_urgent_wait_s)
        if m.resident and not m.busy:
            horizon = min(horizon, m.loaded_at + cfg.dwell_factor * m.load_seconds - now)
            horizon = min(horizon, m.last_used + cfg.dwell_idle_factor * m.load_seconds - now)
    return max(0.05, min(horizon, 5.0))
