"""Builds the scheduling components for the daemon (called once by app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roundhouse.daemon.scheduling.priority_queue import PriorityScheduler
from roundhouse.daemon.scheduling.settings import SchedulingSettings
from roundhouse.daemon.scheduling.single_flight import SingleFlightGroup

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

# Backends that run one request at a time unless configured otherwise (Ollama's
# OLLAMA_NUM_PARALLEL default is 1; the embedded llama.cpp has one context).
_ONE_AT_A_TIME = ("ollama", "embedded")
# Suffix of the lane embedding requests use: `scheduler.slot(backend.name + EMBEDDINGS_LANE, ...)`.
EMBEDDINGS_LANE = ":embeddings"


def concurrency_rule(settings: SchedulingSettings, backends: dict[str, Any]) -> Any:
    def concurrency_for(name: str) -> int:
        if name in settings.concurrency:
            return settings.concurrency[name]
        if name.endswith(EMBEDDINGS_LANE):
            return settings.embed_concurrency
        backend = backends.get(name)
        kind = f"{name} {type(backend).__module__ if backend is not None else ''}".lower()
        if any(word in kind for word in _ONE_AT_A_TIME):
            return settings.default_local_concurrency
        return settings.default_remote_concurrency

    return concurrency_for


def build(ctx: Daemon) -> dict[str, Any]:
    """The daemon's `scheduler` and `flights` (app.py sets each attribute from the dict)."""
    return {"scheduler": build_scheduler(ctx), "flights": SingleFlightGroup()}


def build_scheduler(ctx: Daemon) -> PriorityScheduler:
    settings: SchedulingSettings = ctx.settings.scheduling
    catalog = getattr(ctx, "catalog", None)
    backends = getattr(catalog, "backends", {}) if catalog is not None else {}
    events = getattr(ctx, "events", None)
    return PriorityScheduler(
        concurrency_rule(settings, backends),
        max_queue_depth=settings.max_queue_depth,
        pause_background=settings.pause_background,
        pause_scope=settings.pause_scope,
        resume_delay_s=settings.background_resume_delay_s,
        publish=events.publish if events is not None else None,
    )
