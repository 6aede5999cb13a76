"""What /metrics reports: counters fed from the event bus, gauges read when Prometheus scrapes.

Nothing here runs inside a request. A finished request's `request.done` event is only put
aside (one append); the counters and histograms take it in when the next scrape comes, or
within a second, whichever is first. Queue depth, residency, budgets and cache totals are read
from their components at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roundhouse.daemon.events import Event, EventBus

log = logging.getLogger(__name__)
FOLD_EVERY_S = 1.0
REQUEST_LABELS = ("dialect", "route", "backend", "app", "status")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
FOLDED_KINDS = ("request.done", "agents.run")


def route_of(data: dict[str, Any]) -> str:
    local = data.get("local")
    return "none" if local is None else "local" if local else "cloud"


def provider_of(data: dict[str, Any]) -> str:
    """Cloud spend by the provider in the model's id (`openai/gpt-4o`), local by its backend."""
    model = str(data.get("model_used") or "")
    if data.get("local") is False and "/" in model:
        return model.split("/", 1)[0]
    return str(data.get("backend") or "none")


class EventMetrics:
    """Counters and histograms of what the bus reports, in the daemon's own registry."""

    def __init__(self, registry: CollectorRegistry, bus: EventBus) -> None:
        self._bus = bus
        self._pending: deque[Event] = deque()
        self._fold_scheduled = False
        self.requests = Counter("roundhouse_requests", "Requests answered", REQUEST_LABELS, registry=registry)
        self.duration = Histogram(
            "roundhouse_request_duration_seconds",
            "Time from the first byte asked of the answer to its last",
            REQUEST_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.overhead = Histogram(
            "roundhouse_overhead_seconds",
            "Roundhouse's own time on a request: all of it less the time spent on the answer's stream",
            ("dialect", "route"),
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "roundhouse_time_to_first_token_seconds",
            "Time to the answer's first token",
            ("dialect", "route", "backend", "app"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "roundhouse_tokens",
            "Tokens in prompts and answers",
            ("direction", "route", "backend"),
            registry=registry,
        )
        self.cache = Counter(
            "roundhouse_cache_results",
            "Requests by what the cache did: hit, miss or off",
            ("result",),
            registry=registry,
        )
        self.unavailable = Counter(
            "roundhouse_unavailable_responses",
            "503 answers (queue full, cooling down, starting, ...), by reason",
            ("reason",),
            registry=registry,
        )
        self.spend = Counter(
            "roundhouse_spend_usd", "Money spent, by provider", ("provider",), registry=registry
        )
        self.agent_runs = Counter(
            "roundhouse_agent_runs", "Background agent runs", ("agent", "status"), registry=registry
        )
        self.agent_insights = Counter(
            "roundhouse_agent_insights", "Insights the agents found", ("agent",), registry=registry
        )

    def start(self) -> None:
        for kind in FOLDED_KINDS:
            self._bus.listen(kind, self._put_aside)

    def stop(self) -> None:
        for kind in FOLDED_KINDS:
            self._bus.unlisten(kind, self._put_aside)

    def _put_aside(self, event: Event) -> None:
        self._pending.append(event)
        if not self._fold_scheduled:
            try:
                asyncio.get_running_loop().call_later(FOLD_EVERY_S, self.fold)
                self._fold_scheduled = True
            except RuntimeError:  # published outside the loop: the next scrape takes it in
                pass

    def fold(self) -> None:
        self._fold_scheduled = False
        while self._pending:
            event = self._pending.popleft()
            try:
                self._take(event)
            except Exception:  # one odd event must not stop the rest
                log.exception("metrics: %s event not counted", event.kind)

    def _take(self, event: Event) -> None:
        data = event.data
        if event.kind == "agents.run":
            agent = str(data.get("agent") or "unknown")
            self.agent_runs.labels(agent, str(data.get("status") or "unknown")).inc()
            self.agent_insights.labels(agent).inc(int(data.get("insights") or 0))
            return
        route = route_of(data)
        backend = str(data.get("backend") or "none")
        dialect = str(data.get("dialect") or "unknown")
        status = int(data.get("status") or 0)
        labels = (dialect, route, backend, str(data.get("app") or "unknown"), str(status))
        self.requests.labels(*labels).inc()
        latency_s = float(data.get("latency_ms") or 0.0) / 1000
        self.duration.labels(*labels).observe(latency_s)
        received_at = data.get("received_at")
        if received_at is not None:
            self.overhead.labels(dialect, route).observe(max(0.0, event.ts - float(received_at) - latency_s))
        if data.get("ttft_ms") is not None:
            self.ttft.labels(*labels[:4]).observe(float(data["ttft_ms"]) / 1000)
        self.tokens.labels("prompt", route, backend).inc(int(data.get("tokens_in") or 0))
        self.tokens.labels("completion", route, backend).inc(int(data.get("tokens_out") or 0))
        self.cache.labels(str(data.get("cache") or "off")).inc()
        if status == 503:
            self.unavailable.labels(str(data.get("error_kind") or "unknown")).inc()
        cost = float(data.get("cost_usd") or 0.0)
        if cost:
            self.spend.labels(provider_of(data)).inc(cost)


def _stats(component: Any) -> dict[str, Any] | None:
    stats = getattr(component, "stats", None)
    if not callable(stats):
        return None
    result = stats()
    return result if isinstance(result, dict) else None


class StateCollector(Collector):
    """Gauges (and the components' own running totals) read at scrape time."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Metric]:
        parts = (
            self._info,
            self._cache,
            self._queues,
            self._residency,
            self._hosts,
            self._budgets,
            self._memory,
        )
        for part in parts:
            try:
                yield from part()
            except Exception:  # a component that cannot answer leaves out its own metrics only
                log.exception("metrics: %s failed", part.__name__)

    def _info(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("roundhouse_build_info", "Roundhouse's version", labels=["version"])
        info.add_metric([self.daemon.version], 1)
        yield info
        yield GaugeMetricFamily(
            "roundhouse_ready", "1 once the daemon is ready", value=int(self.daemon.ready)
        )
        yield GaugeMetricFamily(
            "roundhouse_uptime_seconds",
            "Seconds since the daemon started",
            value=time.time() - self.daemon.started_at,
        )

    def _cache(self) -> Iterator[Metric]:
        stats = _stats(self.daemon.cache)
        if not stats or "hits" not in stats:
            return
        hits = CounterMetricFamily(
            "roundhouse_cache_hits", "Cache hits since start, by kind", labels=["kind"]
        )
        for kind, count in stats["hits"].items():
            hits.add_metric([kind], count)
        yield hits
        yield CounterMetricFamily(
            "roundhouse_cache_misses", "Cache misses since start", value=stats["misses"]
        )
        yield GaugeMetricFamily("roundhouse_cache_entries", "Answers in the cache", value=stats["entries"])
        yield GaugeMetricFamily("roundhouse_cache_bytes", "Bytes the cache holds", value=stats["bytes"])

    def _queues(self) -> Iterator[Metric]:
        stats = _stats(self.daemon.scheduler)
        if not stats or "backends" not in stats:
            return
        queued = GaugeMetricFamily(
            "roundhouse_queue_depth", "Requests waiting for a backend", labels=["backend"]
        )
        running = GaugeMetricFamily(
            "roundhouse_queue_running", "Requests a backend is answering", labels=["backend"]
        )
        refused = CounterMetricFamily(
            "roundhouse_queue_refused",
            "Requests refused with 503 because the queue was full",
            labels=["backend"],
        )
        for name, lane in stats["backends"].items():
            queued.add_metric([name], lane["queued"])
            running.add_metric([name], lane["running"])
            refused.add_metric([name], lane["refused"])
        yield from (queued, running, refused)
        yield GaugeMetricFamily(
            "roundhouse_background_paused",
            "1 while background work waits for interactive requests",
            value=int(bool(stats.get("background_paused"))),
        )

    def _hosts(self) -> Iterator[Metric]:
        rows = self.daemon.fleet.status()
        if not rows:
            return
        up = GaugeMetricFamily("roundhouse_host_up", "1 while a host answers", labels=["host", "kind"])
        queue = GaugeMetricFamily("roundhouse_host_queue", "Requests in flight on a host", labels=["host"])
        loaded = GaugeMetricFamily("roundhouse_host_models_loaded", "Models a host holds", labels=["host"])
        free = GaugeMetricFamily(
            "roundhouse_host_memory_free_bytes", "Memory a host has free, where known", labels=["host"]
        )
        for row in rows:
            up.add_metric([row["name"], row["kind"]], int(row["state"] == "up"))
            queue.add_metric([row["name"]], row["queue"])
            loaded.add_metric([row["name"]], len(row["loaded"]))
            if row["memory_free_bytes"] is not None:
                free.add_metric([row["name"]], row["memory_free_bytes"])
        yield from (up, queue, loaded, free)

    def _residency(self) -> Iterator[Metric]:
        manager = self.daemon.residency
        if not hasattr(manager, "gpu_usage"):
            return
        total = GaugeMetricFamily("roundhouse_gpu_memory_total_bytes", "GPU memory", labels=["gpu", "name"])
        used = GaugeMetricFamily(
            "roundhouse_gpu_memory_used_bytes", "GPU memory in use", labels=["gpu", "by"]
        )
        for gpu in manager.gpu_usage():
            index = str(gpu["index"])
            total.add_metric([index, str(gpu["name"])], gpu["total_bytes"])
            used.add_metric([index, "roundhouse"], gpu["used_by_roundhouse_bytes"])
            used.add_metric([index, "others"], gpu["used_by_others_bytes"])
        yield from (total, used)
        vram = GaugeMetricFamily(
            "roundhouse_model_vram_bytes", "GPU memory a resident model holds", labels=["model", "backend"]
        )
        resident = GaugeMetricFamily(
            "roundhouse_model_resident", "1 while a model is loaded", labels=["model", "backend", "pinned"]
        )
        pinned = manager.pinned
        for tracked in manager.tracked.values():
            labels = [tracked.model.id, tracked.backend.name]
            resident.add_metric([*labels, str(tracked.model.id in pinned).lower()], int(tracked.resident))
            if tracked.resident:
                vram.add_metric(labels, tracked.size_vram or 0)
        yield from (vram, resident)
        yield CounterMetricFamily(
            "roundhouse_residency_loads", "Models loaded since start", value=manager.loads
        )
        yield CounterMetricFamily(
            "roundhouse_residency_evictions", "Models evicted since start", value=manager.evictions
        )

    def _budgets(self) -> Iterator[Metric]:
        spend = self.daemon.spend
        if not hasattr(spend, "budget_status"):
            return
        spent = GaugeMetricFamily(
            "roundhouse_budget_spent_usd", "Spent in the budget's window", labels=["window"]
        )
        limit = GaugeMetricFamily(
            "roundhouse_budget_limit_usd", "The budget of the window", labels=["window"]
        )
        for window, row in spend.budget_status()["overall"].items():
            spent.add_metric([window], row["spent_usd"])
            if row["budget_usd"] is not None:
                limit.add_metric([window], row["budget_usd"])
        yield from (spent, limit)
        forecast = spend.forecast()
        yield GaugeMetricFamily(
            "roundhouse_spend_forecast_usd",
            "This month's spend at the recent daily rate",
            value=forecast["forecast_usd"],
        )

    def _memory(self) -> Iterator[Metric]:
        service = getattr(self.daemon.memory, "service", None)
        if service is None:
            return
        memories = GaugeMetricFamily("roundhouse_memories", "Memories by status", labels=["status"])
        for status, count in service.book.counts().items():
            memories.add_metric([status], count)
        yield memories
