"""Discrete-event simulation of GPU residency policies, driving the real policy code.

    .venv/bin/python bench/residency_sim.py [--hours H] [--seed N]

Every policy sees the same requests (same seed): arrival time, model and generation time.
Loads are serialized (one at a time, as Ollama and Roundhouse both do), each loaded model
serves 2 requests in parallel, and load times are the simulated "measured" load times.

- ollama: Ollama's scheduler — requests are taken in arrival order and one that needs a load
  blocks those behind it; evicts the idle runner with the shortest keep_alive (all equal, so
  by name), waiting for a busy one when none is idle; 5 min idle TTL; at most 3 loaded.
- lru: the same queueing, evicting the least recently used idle model; no TTL, no count cap.
- roundhouse: `roundhouse.daemon.residency.policy.ResidencyPolicy` with its default settings —
  waits in the queue rather than thrash, GreedyDual-Size-Frequency eviction, ski-rental idle
  release, preloading when idle.
- rh+release: the same with `release_idle` on (idle models past their ski-rental break-even
  are unloaded to give VRAM back to other apps): what that courtesy costs in loads.
- offline: the same policy but clairvoyant: it evicts the model whose next request is
  furthest in the future (Belady, ties by reload cost per byte) and never releases an idle
  model early. It is a reference point, not a proven optimum.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from roundhouse.daemon.residency.policy import (
    GB,
    Drain,
    Load,
    ModelView,
    PolicyConfig,
    Refuse,
    ResidencyPolicy,
)

SLOTS = 2
WIDTHS = (8, 10, 12, 12, 9, 9)


@dataclass(frozen=True)
class SimModel:
    name: str
    size_gb: float
    load_s: float
    service_mean_s: float

    @property
    def size_bytes(self) -> int:
        return int(self.size_gb * GB)


@dataclass
class Request:
    model: str
    arrival: float
    service: float
    start: float | None = None


@dataclass
class Scenario:
    name: str
    capacity_gb: float
    models: list[SimModel]
    requests: list[Request]


@dataclass
class Runner:
    model: SimModel
    loaded_at: float
    last_used: float
    in_flight: int = 0
    queue: deque[Request] = field(default_factory=deque)
    expires_at: float | None = None


@dataclass
class Outcome:
    loads: int
    load_seconds: float
    waits: list[float]
    served: int
    refused: int

    @property
    def p50(self) -> float:
        return statistics.median(self.waits) if self.waits else 0.0

    @property
    def p95(self) -> float:
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


# -- workloads ------------------------------------------------------------------------------


def _service(rng: random.Random, mean: float) -> float:
    return rng.gammavariate(2.0, mean / 2.0)


def scenario_agents(rng: random.Random, hours: float) -> Scenario:
    """131 agents on one 4 GB GPU: 36 on a 3.2 GB reasoning model, 59 on a 2.5 GB coder, 36 on a
    0.8 GB tiny model; each agent sends a request every 20 minutes on average (Poisson)."""
    models = [
        SimModel("reasoning-3.2g", 3.2, load_s=4.8, service_mean_s=20.0),
        SimModel("coder-2.5g", 2.5, load_s=4.0, service_mean_s=6.0),
        SimModel("tiny-0.8g", 0.8, load_s=2.0, service_mean_s=1.2),
    ]
    agents = {"reasoning-3.2g": 36, "coder-2.5g": 59, "tiny-0.8g": 36}
    mean_gap = 20 * 60.0
    horizon = hours * 3600
    requests: list[Request] = []
    by_name = {m.name: m for m in models}
    for name, count in agents.items():
        for _ in range(count):
            t = rng.expovariate(1 / mean_gap)
            while t < horizon:
                requests.append(Request(name, t, _service(rng, by_name[name].service_mean_s)))
                t += rng.expovariate(1 / mean_gap)
    requests.sort(key=lambda r: r.arrival)
    # 4 GB card, about 0.35 GB taken by the desktop and the CUDA context.
    return Scenario("1: 131 agents, one 4 GB GPU", 4.0 - 0.35, models, requests)


def scenario_bursty(rng: random.Random, hours: float) -> Scenario:
    """A 24 GB GPU, six models of mixed sizes, each used in bursts (on/off Poisson)."""
    models = [
        SimModel("a-32b-13g", 13.0, load_s=14.0, service_mean_s=25.0),
        SimModel("b-14b-8.5g", 8.5, load_s=9.5, service_mean_s=12.0),
        SimModel("c-8b-5g", 5.0, load_s=6.0, service_mean_s=8.0),
        SimModel("d-coder-4.5g", 4.5, load_s=5.5, service_mean_s=5.0),
        SimModel("e-3b-2.2g", 2.2, load_s=3.2, service_mean_s=3.0),
        SimModel("f-embed-0.7g", 0.7, load_s=1.5, service_mean_s=0.4),
    ]
    # (mean off minutes, mean on minutes, requests per minute while on)
    shapes = {
        "a-32b-13g": (25.0, 4.0, 2.0),
        "b-14b-8.5g": (12.0, 5.0, 3.0),
        "c-8b-5g": (8.0, 6.0, 4.0),
        "d-coder-4.5g": (6.0, 8.0, 6.0),
        "e-3b-2.2g": (10.0, 3.0, 8.0),
        "f-embed-0.7g": (5.0, 2.0, 30.0),
    }
    horizon = hours * 3600
    requests: list[Request] = []
    by_name = {m.name: m for m in models}
    for name, (off_min, on_min, per_min) in shapes.items():
        t = rng.expovariate(1 / (off_min * 60))
        while t < horizon:
            burst_end = t + rng.expovariate(1 / (on_min * 60))
            while t < min(burst_end, horizon):
                requests.append(Request(name, t, _service(rng, by_name[name].service_mean_s)))
                t += rng.expovariate(per_min / 60)
            t = burst_end + rng.expovariate(1 / (off_min * 60))
    requests.sort(key=lambda r: r.arrival)
    return Scenario("2: 24 GB GPU, 6 models, bursty", 24.0 - 1.0, models, requests)


# -- the simulator --------------------------------------------------------------------------


class Simulator:
    """Events: arrivals, completions, load completions and a 1 s reconcile tick."""

    def __init__(self, scenario: Scenario) -> None:
        # Each run gets its own copy of the requests: they record when they started.
        self.scenario = replace(scenario, requests=[replace(r) for r in scenario.requests])
        self.models = {m.name: m for m in scenario.models}
        self.capacity = int(scenario.capacity_gb * GB)
        self.now = 0.0
        self.resident: dict[str, Runner] = {}
        self.loading: str | None = None
        self.loads = 0
        self.load_seconds = 0.0
        self.refused = 0
        self._events: list[tuple[float, int, str, object]] = []
        self._seq = itertools.count()
        self.arrivals_by_model: dict[str, list[float]] = {m.name: [] for m in scenario.models}
        for r in scenario.requests:
            self.arrivals_by_model[r.model].append(r.arrival)

    def push(self, at: float, kind: str, payload: object = None) -> None:
        heapq.heappush(self._events, (at, next(self._seq), kind, payload))

    def used(self) -> int:
        return sum(r.model.size_bytes for r in self.resident.values())

    def start_load(self, name: str) -> None:
        model = self.models[name]
        self.loading = name
        self.loads += 1
        self.load_seconds += model.load_s
        self.resident[name] = Runner(model, loaded_at=self.now + model.load_s, last_used=self.now)
        self.push(self.now + model.load_s, "loaded", name)

    def unload(self, name: str) -> None:
        runner = self.resident.pop(name)
        assert runner.in_flight == 0 and not runner.queue, f"evicted busy model {name}"

    def run_queue(self, runner: Runner) -> None:
        while runner.in_flight < SLOTS and runner.queue:
            req = runner.queue.popleft()
            req.start = self.now
            runner.in_flight += 1
            runner.last_used = self.now
            runner.expires_at = None
            self.push(self.now + req.service, "finish", req)

    def run(self, on_arrival: Callable[[Request], None], step: Callable[[], None]) -> Outcome:
        for req in self.scenario.requests:
            self.push(req.arrival, "arrive", req)
        horizon = self.scenario.requests[-1].arrival if self.scenario.requests else 0.0
        tick = 0.0
        # Ticks run on past the last arrival so that everything queued is served.
        while tick <= horizon + 3600:
            self.push(tick, "tick")
            tick += 1.0
        while self._events:
            self.now, _, kind, payload = heapq.heappop(self._events)
            if kind == "arrive":
                assert isinstance(payload, Request)
                on_arrival(payload)
            elif kind == "finish":
                assert isinstance(payload, Request)
                runner = self.resident[payload.model]
                runner.in_flight -= 1
                runner.last_used = self.now
                self.run_queue(runner)
            elif kind == "loaded":
                self.loading = None
                runner = self.resident[str(payload)]
                runner.last_used = self.now
            step()
        waits = [r.start - r.arrival for r in self.scenario.requests if r.start is not None]
        return Outcome(self.loads, self.load_seconds, waits, len(waits), self.refused)


def simulate_fifo(scenario: Scenario, *, ttl_s: float | None, max_loaded: int | None, victim: str) -> Outcome:
    """Ollama-style: one pending queue in arrival order; a request needing a load blocks the rest."""
    sim = Simulator(scenario)
    pending: deque[Request] = deque()

    def choose_victim() -> Runner | None:
        runners = [r for r in sim.resident.values() if r.model.name != sim.loading]
        if not runners:
            return None
        if victim == "lru":
            ordered = sorted(runners, key=lambda r: r.last_used)
        else:  # equal keep_alive for all, so Ollama's sort falls back to the name
            ordered = sorted(runners, key=lambda r: r.model.name)
        idle = [r for r in ordered if r.in_flight == 0 and not r.queue]
        return idle[0] if idle else ordered[0]

    def step() -> None:
        if ttl_s is not None:
            for name, runner in list(sim.resident.items()):
                idle = runner.in_flight == 0 and not runner.queue and name != sim.loading
                if idle and runner.expires_at is None:
                    runner.expires_at = sim.now + ttl_s
                if idle and runner.expires_at is not None and runner.expires_at <= sim.now:
                    sim.unload(name)
        while pending:
            req = pending[0]
            runner = sim.resident.get(req.model)
            if runner is not None and sim.loading != req.model:
                pending.popleft()
                runner.queue.append(req)
                sim.run_queue(runner)
                continue
            if sim.loading is not None:
                return
            model = sim.models[req.model]
            count_ok = max_loaded is None or len(sim.resident) < max_loaded
            if sim.capacity - sim.used() >= model.size_bytes and count_ok:
                sim.start_load(req.model)
                return
            target = choose_victim()
            if target is None:
                pending.popleft()
                sim.refused += 1
                continue
            if target.in_flight == 0 and not target.queue:
                sim.unload(target.model.name)
                continue
            return

    def on_arrival(req: Request) -> None:
        pending.append(req)

    return sim.run(on_arrival, step)


class ClairvoyantPolicy(ResidencyPolicy):
    """Evicts the model needed furthest in the future; never releases idle models early."""

    future: Callable[[str, float], float]

    def eviction_order(self, now: float, candidates):  # type: ignore[no-untyped-def]
        def key(m: ModelView) -> tuple[float, float]:
            return (-self.future(m.model_id, now), m.load_seconds / max(m.size_bytes, 1))

        return sorted(candidates, key=key)

    def expired(self, now: float, models):  # type: ignore[no-untyped-def]
        return []


def simulate_policy(scenario: Scenario, policy: ResidencyPolicy) -> Outcome:
    sim = Simulator(scenario)
    waiting: dict[str, deque[Request]] = {m.name: deque() for m in scenario.models}
    draining: set[str] = set()

    def views() -> list[ModelView]:
        out = []
        for model in scenario.models:
            runner = sim.resident.get(model.name)
            queue = waiting[model.name]
            view = ModelView(
                model.name,
                model.size_bytes,
                model.load_s,
                resident=runner is not None,
                queued=len(queue) + (len(runner.queue) if runner else 0),
                oldest_wait_s=sim.now - queue[0].arrival if queue else 0.0,
                draining=model.name in draining,
            )
            if runner is not None:
                view.in_flight = runner.in_flight + (1 if sim.loading == model.name else 0)
                view.loaded_at = runner.loaded_at
                view.last_used = runner.last_used
            out.append(view)
        return out

    def dispatch() -> None:
        for name, runner in sim.resident.items():
            if name in draining or sim.loading == name:
                continue
            queue = waiting[name]
            while queue:
                runner.queue.append(queue.popleft())
            sim.run_queue(runner)

    def step() -> None:
        dispatch()
        for name in policy.expired(sim.now, views()):
            if name != sim.loading:
                sim.unload(name)
                policy.record_eviction(name)
        decision = policy.decide(sim.now, views())
        draining.clear()
        if isinstance(decision, Drain):
            draining.update(decision.model_ids)
        elif isinstance(decision, Refuse):
            sim.refused += len(waiting[decision.model_id])
            waiting[decision.model_id].clear()
        elif isinstance(decision, Load) and sim.loading is None:
            for name in decision.evict:
                sim.unload(name)
                policy.record_eviction(name)
            sim.start_load(decision.model_id)
        elif sim.loading is None:
            wanted = policy.preload(sim.now, views())
            if wanted is not None:
                sim.start_load(wanted)
        dispatch()

    def on_arrival(req: Request) -> None:
        model = sim.models[req.model]
        policy.record_use(req.model, sim.now, load_seconds=model.load_s, size_bytes=model.size_bytes)
        waiting[req.model].append(req)

    return sim.run(on_arrival, step)


def next_use_oracle(scenario: Scenario) -> Callable[[str, float], float]:
    import bisect

    arrivals: dict[str, list[float]] = {m.name: [] for m in scenario.models}
    for r in scenario.requests:
        arrivals[r.model].append(r.arrival)

    def next_use(model: str, now: float) -> float:
        times = arrivals[model]
        i = bisect.bisect_right(times, now)
        return times[i] - now if i < len(times) else float("inf")

    return next_use


def run_all(scenario: Scenario) -> dict[str, Outcome]:
    config = PolicyConfig(capacity_bytes=int(scenario.capacity_gb * GB))
    offline = ClairvoyantPolicy(PolicyConfig(capacity_bytes=config.capacity_bytes, release_idle=False))
    offline.future = next_use_oracle(scenario)
    return {
        "ollama": simulate_fifo(scenario, ttl_s=300.0, max_loaded=3, victim="ollama"),
        "lru": simulate_fifo(scenario, ttl_s=None, max_loaded=None, victim="lru"),
        "roundhouse": simulate_policy(scenario, ResidencyPolicy(config)),
        "rh+release": simulate_policy(scenario, ResidencyPolicy(replace(config, release_idle=True))),
        "offline": simulate_policy(scenario, offline),
    }


def print_report(scenario: Scenario, results: dict[str, Outcome]) -> list[bool]:
    print(f"\nScenario {scenario.name}: {len(scenario.requests)} requests,", end=" ")
    print(f"{scenario.capacity_gb:.2f} GB for models")
    header = ("policy", "loads", "load s", "p50 wait s", "p95 wait s", "served", "refused")
    print(f"{header[0]:<12}" + "".join(f"{h:>{w}}" for h, w in zip(header[1:], WIDTHS, strict=True)))
    for name, out in results.items():
        print(
            f"{name:<12}{out.loads:>8}{out.load_seconds:>10.0f}{out.p50:>12.1f}{out.p95:>12.1f}"
            f"{out.served:>9}{out.refused:>9}"
        )
    ours, ollama, offline = results["roundhouse"], results["ollama"], results["offline"]
    fewer = 1 - ours.loads / ollama.loads if ollama.loads else 0.0
    vs_offline = ours.loads / offline.loads if offline.loads else float("inf")
    goal_fewer = fewer >= 0.40
    goal_offline = vs_offline <= 1.2
    if ours.loads == offline.loads:
        print("note: knowing the future changed no eviction here (when one large model fills the GPU the")
        print("      victim is forced); the offline row shares our queueing rule, so it bounds eviction only")
    print(f"loads vs ollama: {fewer:.0%} fewer (goal >= 40 %): {'met' if goal_fewer else 'MISSED'}")
    print(f"loads vs offline: {vs_offline:.2f}x (goal <= 1.2x): {'met' if goal_offline else 'MISSED'}")
    return [goal_fewer, goal_offline]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    goals: list[bool] = []
    for build in (scenario_agents, scenario_bursty):
        scenario = build(random.Random(args.seed), args.hours)
        goals += print_report(scenario, run_all(scenario))
    print(f"\ngoals met: {sum(goals)} of {len(goals)}")


if __name__ == "__main__":
    main()
