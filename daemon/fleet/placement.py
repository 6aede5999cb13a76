"""Which placement of a model a request goes to: the one with the shortest expected wait.

A placement is one host that can serve the model. The wait a request should expect there is
the work queued ahead of it, plus a load when the model is not resident (a model that requests
placed there will have loaded counts as resident), plus an eviction when the host has no room
for it. Loaded placements win ties, so a model is not loaded twice while one copy keeps up; a
long queue on the loaded host sends work to an idle one. A host that is down is never chosen
while another is up. Pure: the fleet passes in what it knows, and the simulator in
bench/fleet_sim.py drives the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1024**3
# Until a host has answered a request, what one answer and one load are taken to cost.
DEFAULT_SERVICE_S = 1.0
LOAD_START_S = 1.0
LOAD_BYTES_PER_S = 1.5 * GB
# Making room costs more than the load alone: the evicted model is likely wanted again.
EVICTION_PENALTY = 1.0


@dataclass(frozen=True, slots=True)
class HostView:
    """What the ranker knows of one host now."""

    name: str
    up: bool = True
    loaded: frozenset[str] = frozenset()  # model keys resident there
    free_bytes: int | None = None  # None: the host does not say (it manages its own memory)
    queue: int = 0  # requests in flight there (the daemon's and the engine's own waiting)
    parallel: int = 1  # requests it serves at once
    service_s: float | None = None  # measured seconds per answer (None: not measured yet)
    load_bytes_per_s: float = LOAD_BYTES_PER_S
    manages_memory: bool = False  # vLLM / GPUStack: loads are not ours to plan
    full: bool = False  # it holds as many models as it may (`max_loaded`): a load evicts one


@dataclass(frozen=True, slots=True)
class Candidate:
    """One placement: `host` can serve the model `key`, which takes `size_bytes` when loaded."""

    host: str
    key: str
    size_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Ranked:
    candidate: Candidate
    wait_s: float
    loaded: bool
    fits: bool
    up: bool

    def reason(self) -> str:
        if not self.up:
            return f"{self.candidate.host} is down"
        if self.loaded:
            where = "loaded there"
        else:
            where = "fits its free memory" if self.fits else "needs room made"
        return f"on host {self.candidate.host}: {where}, expected wait {self.wait_s:.1f} s"


def load_seconds(view: HostView, size_bytes: int) -> float:
    return LOAD_START_S + size_bytes / max(view.load_bytes_per_s, 1.0)


def expected_wait(view: HostView, candidate: Candidate) -> Ranked:
    loaded = view.manages_memory or candidate.key in view.loaded
    fits = loaded or (not view.full and (view.free_bytes is None or candidate.size_bytes <= view.free_bytes))
    service = view.service_s if view.service_s is not None else DEFAULT_SERVICE_S
    wait = (view.queue / max(view.parallel, 1)) * service
    if not loaded:
        wait += load_seconds(view, candidate.size_bytes) * (1.0 if fits else 1.0 + EVICTION_PENALTY)
    return Ranked(candidate=candidate, wait_s=wait, loaded=loaded, fits=fits, up=view.up)


def rank(candidates: list[Candidate], views: dict[str, HostView]) -> list[Ranked]:
    """Every candidate, best first: hosts that are up, then the shortest expected wait, then a
    loaded copy over a cold one, then the candidates' own order (the configured host order)."""
    ranked = [expected_wait(views.get(c.host) or HostView(name=c.host), c) for c in candidates]
    order = {id(r): i for i, r in enumerate(ranked)}
    return sorted(ranked, key=lambda r: (not r.up, round(r.wait_s, 3), not r.loaded, order[id(r)]))
