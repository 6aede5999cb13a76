"""Discrete-event simulation of placing requests across a fleet of hosts, driving the real ranker.

    .venv/bin/python bench/fleet_sim.py [--seed N] [--trace FILE] [--kill HOST@T] [--sweep N] [--json]

Every policy sees the same trace: several users, each with a favourite model, sending requests in
sessions (Poisson within a session) and in agent bursts. Each host is an Ollama-like engine: one
queue in arrival order, `parallel` requests served at once over all its models (one GPU's
compute), one load at a time taking `placement.load_seconds()`, the least recently used idle
model evicted when a load needs room, idle models unloaded after keep_alive, at most max_loaded
models resident (Ollama's defaults: 5 min, 3). A model larger than a host's memory is never
sent there.

- round-robin: requests go to the hosts in turn. When a host dies, what was queued there fails,
  and so does what is sent there until a health check notices (--detect-s).
- per-host: each user talks to their own machine (user i -> host i mod 3, the next one when the
  model does not fit there), each running Ollama on its own. Users of a dead host fail for good.
- roundhouse: every arrival is placed by `roundhouse.daemon.fleet.placement.rank()` over views
  the daemon has: loaded models and free memory from a probe every --probe-s seconds plus the
  placements it made since, its own count of requests in flight per host, the mean service time
  it measured there. When it notices a dead host, requests that had not started there are placed
  again; requests streaming from it when it died are lost (counted apart).

Wait is the time from arrival until the request starts being served (a load included).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import shlex
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from roundhouse.daemon.fleet.placement import GB, Candidate, HostView, load_seconds, rank


@dataclass(frozen=True, slots=True)
class SimModel:
    name: str
    size_gb: float
    service_mean_s: float

    @property
    def size_bytes(self) -> int:
        return int(self.size_gb * GB)


@dataclass(frozen=True, slots=True)
class HostSpec:
    name: str
    memory_gb: float
    parallel: int

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * GB)


@dataclass(frozen=True, slots=True)
class TraceRow:
    t: float
    user: str
    model: str
    service_s: float


@dataclass(frozen=True, slots=True)
class Kill:
    host: str
    at: float


MODELS = (
    SimModel("chat-5g", 5.0, 6.0),
    SimModel("coder-5g", 5.0, 8.0),
    SimModel("reason-8g", 8.0, 12.0),
    SimModel("small-3g", 3.0, 3.0),
    SimModel("large-13g", 13.0, 18.0),
)  # in order of popularity
HOSTS = (HostSpec("big", 24.0, 2), HostSpec("mid", 16.0, 2), HostSpec("small", 8.0, 1))


# -- the trace ------------------------------------------------------------------------------


def synthetic_trace(
    rng: random.Random, *, users: int = 9, minutes: float = 60.0, models: Sequence[SimModel] = MODELS
) -> list[TraceRow]:
    """Each user has a favourite model (Zipf over `models`' order) that takes 70 % of their
    requests, the rest Zipf over all. Users alternate sessions (mean 6 min, a request every 30 s
    on average) and breaks (mean 8 min); a quarter of sessions hold an agent burst of 4-12
    requests about 2 s apart."""
    weights = [1 / (i + 1) for i in range(len(models))]
    horizon = minutes * 60
    rows: list[TraceRow] = []

    def request(t: float, user: str, model: SimModel) -> TraceRow:
        service = rng.gammavariate(2.0, model.service_mean_s / 2)
        return TraceRow(round(t, 3), user, model.name, round(service, 3))

    for u in range(users):
        user = f"user{u}"
        favourite = rng.choices(models, weights)[0]
        t = rng.expovariate(1 / (8 * 60))
        while t < horizon:
            session_end = min(t + rng.expovariate(1 / (6 * 60)), horizon)
            burst_at = rng.uniform(t, session_end) if rng.random() < 0.25 else None
            while t < session_end:
                model = favourite if rng.random() < 0.7 else rng.choices(models, weights)[0]
                rows.append(request(t, user, model))
                t += rng.expovariate(1 / 30)
            if burst_at is not None:
                model = favourite if rng.random() < 0.7 else rng.choices(models, weights)[0]
                for _ in range(rng.randint(4, 12)):
                    rows.append(request(burst_at, user, model))
                    burst_at += rng.expovariate(1 / 2)
            t = session_end + rng.expovariate(1 / (8 * 60))
    rows.sort(key=lambda r: (r.t, r.user))
    return rows


def read_trace(path: Path) -> list[TraceRow]:
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append(
                TraceRow(float(row["t"]), str(row["user"]), str(row["model"]), float(row["service_s"]))
            )
    rows.sort(key=lambda r: (r.t, r.user))
    return rows


def write_trace(path: Path, rows: Sequence[TraceRow]) -> None:
    path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))


# -- one host ------------------------------------------------------------------------------


@dataclass(slots=True)
class Job:
    row: TraceRow
    start: float | None = None
    served: bool = False
    failed: bool = False
    lost: bool = False  # was streaming when its host died
    replaced: int = 0


@dataclass(slots=True)
class Runner:
    model: SimModel
    ready: bool
    last_used: float
    running: int = 0


@dataclass
class Host:
    spec: HostSpec
    up: bool = True
    runners: dict[str, Runner] = field(default_factory=dict)
    loading: str | None = None
    waiting: deque[Job] = field(default_factory=deque)
    running: list[Job] = field(default_factory=list)
    service_total_s: float = 0.0
    service_count: int = 0
    epoch: int = 0  # bumped when the host dies, so its pending load and unload events lapse

    def used_bytes(self) -> int:
        return sum(r.model.size_bytes for r in self.runners.values())

    def holds(self, model: SimModel) -> bool:
        return model.size_bytes <= self.spec.memory_bytes


# -- the simulation ------------------------------------------------------------------------


class Policy(Protocol):
    name: str
    retries: bool  # places a request again when its host dies before it started

    def place(self, sim: Simulation, job: Job) -> str | None: ...


class Simulation:
    def __init__(
        self,
        trace: Sequence[TraceRow],
        *,
        models: Sequence[SimModel],
        hosts: Sequence[HostSpec],
        keep_alive_s: float,
        max_loaded: int,
        detect_s: float,
        probe_s: float,
    ) -> None:
        self.models = {m.name: m for m in models}
        unknown = {r.model for r in trace} - self.models.keys()
        if unknown:
            raise ValueError(f"the trace names models {sorted(unknown)}; known: {sorted(self.models)}")
        self.jobs = [Job(row) for row in trace]
        self.hosts = {h.name: Host(h) for h in hosts}
        self.keep_alive_s, self.max_loaded = keep_alive_s, max_loaded
        self.detect_s, self.probe_s = detect_s, probe_s
        self.now = 0.0
        self.loads = 0
        self.known_down: set[str] = set()
        self.limbo: dict[str, list[Job]] = {name: [] for name in self.hosts}  # sent to a dead host
        # What the last probe saw (loaded keys, free bytes) and what was placed on each host since.
        self.probed: dict[str, tuple[frozenset[str], int]] = {
            n: (frozenset(), h.spec.memory_bytes) for n, h in self.hosts.items()
        }
        self.placed_since_probe: dict[str, set[str]] = {name: set() for name in self.hosts}
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def push(self, at: float, event: Callable[[], None]) -> None:
        heapq.heappush(self._events, (at, next(self._seq), event))

    # -- the engine on each host --

    def pump(self, host: Host) -> None:
        """Ollama-like: requests start in arrival order; one whose model is not loaded waits for
        its load, and the requests behind it wait too."""
        while host.up and host.waiting:
            job = host.waiting[0]
            model = self.models[job.row.model]
            runner = host.runners.get(model.name)
            if runner is not None:
                if not runner.ready or len(host.running) >= host.spec.parallel:
                    return
                host.waiting.popleft()
                job.start = self.now
                runner.running += 1
                runner.last_used = self.now
                host.running.append(job)
                self.push(self.now + job.row.service_s, partial(self.on_finish, host, job))
                continue
            if host.loading is not None:
                return
            if not host.holds(model):
                host.waiting.popleft()
                job.failed = True
                continue
            while (
                host.used_bytes() + model.size_bytes > host.spec.memory_bytes
                or len(host.runners) >= self.max_loaded
            ):
                idle = [r for r in host.runners.values() if r.ready and r.running == 0]
                if not idle:
                    return  # room comes when a request ends
                del host.runners[min(idle, key=lambda r: r.last_used).model.name]
            host.runners[model.name] = Runner(model, ready=False, last_used=self.now)
            host.loading = model.name
            self.loads += 1
            took = load_seconds(HostView(name=host.spec.name), model.size_bytes)
            self.push(self.now + took, partial(self.on_loaded, host, model.name, host.epoch))
            return

    def idle_later(self, host: Host, runner: Runner) -> None:
        if runner.running == 0 and self.keep_alive_s >= 0:
            expire = partial(self.on_expire, host, runner.model.name, runner.last_used, host.epoch)
            self.push(self.now + self.keep_alive_s, expire)

    def on_finish(self, host: Host, job: Job) -> None:
        if job.lost:
            return
        host.running.remove(job)
        job.served = True
        host.service_total_s += job.row.service_s
        host.service_count += 1
        runner = host.runners[job.row.model]
        runner.running -= 1
        runner.last_used = self.now
        self.idle_later(host, runner)
        self.pump(host)

    def on_loaded(self, host: Host, key: str, epoch: int) -> None:
        if epoch != host.epoch:
            return
        host.loading = None
        runner = host.runners[key]
        runner.ready, runner.last_used = True, self.now
        self.pump(host)
        self.idle_later(host, runner)

    def on_expire(self, host: Host, key: str, last_used: float, epoch: int) -> None:
        runner = host.runners.get(key)
        if epoch != host.epoch or runner is None or not runner.ready:
            return
        if runner.running or runner.last_used != last_used or any(j.row.model == key for j in host.waiting):
            return
        del host.runners[key]
        self.pump(host)

    # -- the fleet around the hosts --

    def dispatch(self, policy: Policy, job: Job) -> None:
        name = policy.place(self, job)
        if name is None:
            job.failed = True
            return
        host = self.hosts[name]
        self.placed_since_probe[name].add(job.row.model)
        if host.up:
            host.waiting.append(job)
            self.pump(host)
        elif policy.retries:
            self.limbo[name].append(job)  # its connection hangs until the fleet notices
        else:
            job.failed = True

    def on_kill(self, policy: Policy, host: Host) -> None:
        host.up = False
        host.epoch += 1
        for job in host.running:
            job.lost = True
        stranded = list(host.waiting)
        host.running.clear()
        host.waiting.clear()
        host.runners.clear()
        host.loading = None
        for job in stranded:
            if policy.retries:
                self.limbo[host.spec.name].append(job)
            else:
                job.failed = True
        self.push(self.now + self.detect_s, partial(self.on_detect, policy, host.spec.name))

    def on_detect(self, policy: Policy, name: str) -> None:
        self.known_down.add(name)
        stranded, self.limbo[name] = self.limbo[name], []
        for job in sorted(stranded, key=lambda j: j.row.t):
            job.replaced += 1
            self.dispatch(policy, job)

    def on_probe(self) -> None:
        for name, host in self.hosts.items():
            if host.up:
                self.probed[name] = (frozenset(host.runners), host.spec.memory_bytes - host.used_bytes())
            self.placed_since_probe[name].clear()

    def view(self, name: str) -> HostView:
        """What the daemon knows of a host: the last probe, the models it placed there since and
        those of its requests in flight there, and the service times it measured."""
        host = self.hosts[name]
        in_flight = [*host.waiting, *host.running, *self.limbo[name]]
        placed = {j.row.model for j in in_flight}
        if self.probe_s <= 0 and host.up:  # reads the host at every placement
            seen, free = frozenset(host.runners), host.spec.memory_bytes - host.used_bytes()
        else:
            seen, free = self.probed[name]
            placed |= self.placed_since_probe[name]
        new = placed - seen
        measured = host.service_total_s / host.service_count if host.service_count else None
        return HostView(
            name=name,
            up=name not in self.known_down,
            loaded=seen | new,
            free_bytes=max(0, free - sum(self.models[k].size_bytes for k in new)),
            queue=len(in_flight),
            parallel=host.spec.parallel,
            service_s=measured,
        )

    def run(self, policy: Policy, kill: Kill | None) -> Result:
        for job in self.jobs:
            self.push(job.row.t, partial(self.dispatch, policy, job))
        if kill is not None:
            self.push(kill.at, partial(self.on_kill, policy, self.hosts[kill.host]))
        last = self.jobs[-1].row.t if self.jobs else 0.0
        if self.probe_s > 0:
            for i in range(int(last / self.probe_s) + 1):
                self.push(i * self.probe_s, self.on_probe)
        while self._events:
            self.now, _, event = heapq.heappop(self._events)
            event()
        return Result.of(policy.name, self.jobs, self.loads)


# -- the policies --------------------------------------------------------------------------


class RoundRobin:
    name = "round-robin"
    retries = False

    def __init__(self) -> None:
        self.turn = 0

    def place(self, sim: Simulation, job: Job) -> str | None:
        names = list(sim.hosts)
        model = sim.models[job.row.model]
        for step in range(len(names)):
            i = (self.turn + step) % len(names)
            name = names[i]
            if sim.hosts[name].holds(model) and name not in sim.known_down:
                self.turn = i + 1
                return name
        return None


class PerHost:
    """Each user's own machine; never learns that it died."""

    name = "per-host"
    retries = False

    def __init__(self, users: Sequence[str]) -> None:
        # user2 before user10: the order users are numbered in
        ordered = sorted(set(users), key=lambda u: (len(u), u))
        self.home = {user: i for i, user in enumerate(ordered)}

    def place(self, sim: Simulation, job: Job) -> str | None:
        names = list(sim.hosts)
        model = sim.models[job.row.model]
        home = self.home[job.row.user]
        for step in range(len(names)):
            name = names[(home + step) % len(names)]
            if sim.hosts[name].holds(model):
                return name
        return None


class Roundhouse:
    name = "roundhouse"
    retries = True

    def place(self, sim: Simulation, job: Job) -> str | None:
        model = sim.models[job.row.model]
        candidates = [
            Candidate(host=name, key=model.name, size_bytes=model.size_bytes)
            for name, host in sim.hosts.items()
            if host.holds(model)
        ]
        ranked = rank(candidates, {c.host: sim.view(c.host) for c in candidates})
        return next((r.candidate.host for r in ranked if r.up), None)


# -- results -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True, slots=True)
class Result:
    policy: str
    requests: int
    served: int
    loads: int
    p50_wait_s: float
    p95_wait_s: float
    failed: int  # never started: sent to a dead host, queued there when it died, or nowhere to go
    lost_mid_stream: int
    replaced: int

    @classmethod
    def of(cls, policy: str, jobs: Sequence[Job], loads: int) -> Result:
        waits = [j.start - j.row.t for j in jobs if j.served and j.start is not None]
        return cls(
            policy=policy,
            requests=len(jobs),
            served=sum(j.served for j in jobs),
            loads=loads,
            p50_wait_s=round(percentile(waits, 0.50), 3),
            p95_wait_s=round(percentile(waits, 0.95), 3),
            failed=sum(j.failed for j in jobs),
            lost_mid_stream=sum(j.lost for j in jobs),
            replaced=sum(j.replaced > 0 for j in jobs),
        )


def simulate(
    trace: Sequence[TraceRow],
    *,
    models: Sequence[SimModel] = MODELS,
    hosts: Sequence[HostSpec] = HOSTS,
    kill: Kill | None = None,
    keep_alive_s: float = 300.0,
    max_loaded: int = 3,
    detect_s: float = 5.0,
    probe_s: float = 5.0,
) -> dict[str, Result]:
    """Every policy on the same trace, each on fresh hosts."""
    if kill is not None and kill.host not in {h.name for h in hosts}:
        raise ValueError(f"no host named {kill.host!r} to kill")
    users = [r.user for r in trace]
    policies: list[Policy] = [RoundRobin(), PerHost(users), Roundhouse()]
    out = {}
    for policy in policies:
        sim = Simulation(
            trace,
            models=models,
            hosts=hosts,
            keep_alive_s=keep_alive_s,
            max_loaded=max_loaded,
            detect_s=detect_s,
            probe_s=probe_s,
        )
        out[policy.name] = sim.run(policy, kill)
    return out


@dataclass(frozen=True, slots=True)
class Comparison:
    """Against round-robin: the share of its loads saved, and its p95 wait over this policy's
    (None when this policy's p95 wait is 0)."""

    loads_fewer: float
    p95_ratio: float | None

    def describe(self) -> str:
        if self.p95_ratio is None:
            wait = "no p95 wait at all"
        elif self.p95_ratio >= 1:
            wait = f"{self.p95_ratio:.2f}x lower p95 wait"
        else:
            wait = f"{1 / self.p95_ratio:.2f}x higher p95 wait"
        return f"{self.loads_fewer:.0%} fewer loads, {wait}"


def versus_round_robin(results: dict[str, Result], policy: str = "roundhouse") -> Comparison:
    base, ours = results["round-robin"], results[policy]
    fewer = 1 - ours.loads / base.loads if base.loads else 0.0
    ratio = round(base.p95_wait_s / ours.p95_wait_s, 3) if ours.p95_wait_s else None
    return Comparison(round(fewer, 4), ratio)


# -- the command line ----------------------------------------------------------------------


def parse_hosts(text: str) -> list[HostSpec]:
    hosts = []
    for part in text.split(","):
        name, memory, parallel = part.split(":")
        hosts.append(HostSpec(name.strip(), float(memory), int(parallel)))
    return hosts


def parse_kill(text: str, hosts: Sequence[HostSpec], span_s: float) -> Kill:
    name, _, at = text.partition("@")
    if not at:
        raise SystemExit(f"--kill takes HOST@SECONDS or HOST@PERCENT%, not {text!r}")
    seconds = round(span_s * float(at[:-1]) / 100, 3) if at.endswith("%") else float(at)
    if name not in {h.name for h in hosts}:
        raise SystemExit(f"--kill names {name!r}; the hosts are {[h.name for h in hosts]}")
    return Kill(name, seconds)


HEADER = ("policy", "requests", "loads", "p50 wait s", "p95 wait s", "failed", "lost mid-stream", "re-placed")
WIDTHS = (12, 9, 7, 11, 11, 7, 16, 10)


def print_table(title: str, results: dict[str, Result]) -> None:
    print(f"\n{title}")
    print(
        f"{HEADER[0]:<{WIDTHS[0]}}"
        + "".join(f"{h:>{w}}" for h, w in zip(HEADER[1:], WIDTHS[1:], strict=True))
    )
    for r in results.values():
        cells = (r.requests, r.loads, f"{r.p50_wait_s:.1f}", f"{r.p95_wait_s:.1f}")
        cells += (r.failed, r.lost_mid_stream, r.replaced)
        print(
            f"{r.policy:<{WIDTHS[0]}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS[1:], strict=True))
        )
    for policy in ("per-host", "roundhouse"):
        ratio = versus_round_robin(results, policy)
        print(f"{policy} vs round-robin: {ratio.describe()}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--seed", type=int, default=1)
    add("--users", type=int, default=9)
    add("--minutes", type=float, default=60.0, help="length of the synthetic trace")
    add("--trace", type=Path, help="read the trace from JSONL rows {t, user, model, service_s}")
    add("--write-trace", type=Path, help="write the trace used to this JSONL file")
    hosts = ",".join(f"{h.name}:{h.memory_gb:g}:{h.parallel}" for h in HOSTS)
    add("--hosts", default=hosts, help="NAME:GB:PARALLEL,... (default %(default)s)")
    add("--kill", help="HOST@SECONDS or HOST@PERCENT%% (default: the biggest host at 40%%)")
    add("--detect-s", type=float, default=5.0, help="until a health check notices a dead host")
    add(
        "--probe-s",
        type=float,
        default=5.0,
        help="how often the daemon reads each host (0: at every placement)",
    )
    add("--keep-alive", type=float, default=300.0, help="idle seconds before a model unloads (<0: never)")
    add("--max-loaded", type=int, default=3, help="models a host keeps at once")
    add(
        "--sweep",
        type=int,
        default=0,
        metavar="N",
        help="also run N seeds from --seed on and count the goals met",
    )
    add("--json", action="store_true", help="print the result as JSON only")
    return parser


def rerun_command(args: argparse.Namespace, kill: Kill) -> str:
    words = ["python", "bench/fleet_sim.py"]
    if args.trace:
        words += ["--trace", str(args.trace)]
    else:
        words += ["--seed", str(args.seed), "--users", str(args.users), "--minutes", f"{args.minutes:g}"]
    words += ["--hosts", args.hosts, "--kill", f"{kill.host}@{kill.at:g}", "--detect-s", f"{args.detect_s:g}"]
    words += ["--probe-s", f"{args.probe_s:g}", "--keep-alive", f"{args.keep_alive:g}"]
    words += ["--max-loaded", str(args.max_loaded)]
    return shlex.join(words)


@dataclass(frozen=True, slots=True)
class Evaluation:
    trace: list[TraceRow]
    kill: Kill
    healthy: dict[str, Result]
    broken: dict[str, Result]

    @property
    def versus(self) -> Comparison:
        return versus_round_robin(self.healthy)

    def goals(self) -> dict[str, bool]:
        vs = self.versus
        return {
            "loads_40pct_fewer": vs.loads_fewer >= 0.40,
            "p95_2x_lower": vs.p95_ratio is None or vs.p95_ratio >= 2.0,
            "no_failed_when_a_host_dies": self.broken["roundhouse"].failed == 0,
        }

    def summary(self) -> dict[str, object]:
        return {
            "requests": len(self.trace),
            "kill": asdict(self.kill),
            "roundhouse_vs_round_robin": asdict(self.versus),
            "roundhouse_vs_round_robin_host_killed": asdict(versus_round_robin(self.broken)),
            "goals": self.goals(),
        }


def evaluate(args: argparse.Namespace, trace: list[TraceRow]) -> Evaluation:
    hosts = parse_hosts(args.hosts)
    span = trace[-1].t if trace else 0.0
    biggest = max(hosts, key=lambda h: h.memory_gb)
    kill = parse_kill(args.kill or f"{biggest.name}@40%", hosts, span)

    def run(kill: Kill | None) -> dict[str, Result]:
        return simulate(
            trace,
            hosts=hosts,
            kill=kill,
            keep_alive_s=args.keep_alive,
            max_loaded=args.max_loaded,
            detect_s=args.detect_s,
            probe_s=args.probe_s,
        )

    return Evaluation(trace, kill, run(None), run(kill))


def sweep(args: argparse.Namespace) -> dict[int, Evaluation]:
    """The same settings on `--sweep` seeds: how often each goal is met, not one lucky trace."""
    runs = {}
    for seed in range(args.seed, args.seed + args.sweep):
        trace = synthetic_trace(random.Random(seed), users=args.users, minutes=args.minutes)
        runs[seed] = evaluate(args, trace)
    return runs


def print_sweep(runs: dict[int, Evaluation]) -> None:
    print(f"\nSeeds {min(runs)}-{max(runs)}, roundhouse vs round-robin: no host fails; a host dies")
    met = dict.fromkeys(next(iter(runs.values())).goals(), 0)
    for seed, run in runs.items():
        goals = run.goals()
        for goal, ok in goals.items():
            met[goal] += ok
        verdict = "all goals met" if all(goals.values()) else "MISSED"
        broken = versus_round_robin(run.broken).describe()
        print(f"seed {seed:>3}: {len(run.trace):>4} requests; {run.versus.describe()}; {broken}; {verdict}")
    print("goals met: " + ", ".join(f"{goal} {n}/{len(runs)}" for goal, n in met.items()))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trace:
        trace = read_trace(args.trace)
    else:
        trace = synthetic_trace(random.Random(args.seed), users=args.users, minutes=args.minutes)
    if args.write_trace:
        write_trace(args.write_trace, trace)
    run = evaluate(args, trace)
    goals = run.goals()
    swept = sweep(args) if args.sweep and not args.trace else {}
    users = len({r.user for r in trace})
    if args.json:
        result = {
            "command": rerun_command(args, run.kill),
            "trace": {"requests": len(trace), "users": users, "span_s": trace[-1].t if trace else 0.0},
            "kill": asdict(run.kill),
            "no_failure": {k: asdict(v) for k, v in run.healthy.items()},
            "host_killed": {k: asdict(v) for k, v in run.broken.items()},
            "roundhouse_vs_round_robin": asdict(run.versus),
            "roundhouse_vs_round_robin_host_killed": asdict(versus_round_robin(run.broken)),
            "goals": goals,
        }
        if swept:
            result["sweep"] = [{"seed": seed, **run.summary()} for seed, run in swept.items()]
        print(json.dumps(result, indent=2))
        return 0

    print("rerun: " + rerun_command(args, run.kill))
    models = ", ".join(sorted({r.model for r in trace}))
    span_min = (trace[-1].t if trace else 0.0) / 60
    print(f"trace: {len(trace)} requests from {users} users over {span_min:.1f} min; models {models}")
    print(
        "hosts: " + ", ".join(f"{h.name} {h.memory_gb:g} GB x{h.parallel}" for h in parse_hosts(args.hosts))
    )
    print_table("No host fails", run.healthy)
    kill = run.kill
    print_table(f"Host {kill.host} dies at {kill.at:.0f} s, noticed {args.detect_s:g} s later", run.broken)

    def verdict(goal: str) -> str:
        return "met" if goals[goal] else "MISSED"

    vs, ours_broken = run.versus, run.broken["roundhouse"]
    ratio = "no p95 wait" if vs.p95_ratio is None else f"{vs.p95_ratio:.2f}x"
    print(
        f"\ngoal >= 40 % fewer loads than round-robin: {vs.loads_fewer:.0%}, {verdict('loads_40pct_fewer')}"
    )
    print(f"goal >= 2x lower p95 wait than round-robin: {ratio}, {verdict('p95_2x_lower')}")
    print(
        f"goal 0 failed requests when a host dies: {ours_broken.failed} failed,"
        f" {verdict('no_failed_when_a_host_dies')}; {ours_broken.lost_mid_stream} lost mid-stream"
    )
    if swept:
        print_sweep(swept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
