"""GET /metrics: the daemon's counters and gauges in the Prometheus text format.

Behind the same guard as the control API: loopback, or an admin token (a scraper sends it as
`authorization: Bearer rh-...`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from roundhouse.daemon.api.metrics_collectors import EventMetrics, StateCollector

router = APIRouter(tags=["Control"])


class Metrics:
    """One daemon's registry: never the process-wide one, so two daemons in one process (the
    tests) keep their numbers apart."""

    def __init__(self, daemon: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.events = EventMetrics(self.registry, daemon.events)
        self.registry.register(StateCollector(daemon))
        self.events.start()

    def stop(self) -> None:
        self.events.stop()

    def render(self) -> bytes:
        self.events.fold()
        return generate_latest(self.registry)


@router.get("/metrics", summary="Prometheus metrics: requests, latency, overhead, cache, queues, spend, VRAM")
async def metrics(request: Request) -> Response:
    found: Metrics = request.app.state.metrics
    return Response(found.render(), media_type=CONTENT_TYPE_LATEST)
