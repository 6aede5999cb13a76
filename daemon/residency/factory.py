"""Builds the residency manager for the daemon (called from app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roundhouse.daemon.agents.builtin.measurements import MeasurementFeed
from roundhouse.daemon.components import NoResidency
from roundhouse.daemon.residency.learned import LearnedFacts
from roundhouse.daemon.residency.manager import ResidencyManager
from roundhouse.daemon.residency.pins import PinStore
from roundhouse.daemon.residency.readers import detect_reader

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def build(ctx: Daemon) -> ResidencyManager | NoResidency:
    settings = ctx.settings.residency
    if not settings.enabled:
        return NoResidency(note="residency management is off ([residency] enabled = false)")
    return ResidencyManager(
        settings,
        detect_reader(settings.source, apple_gpu_share=settings.apple_gpu_share),
        backends=lambda: ctx.catalog.backends,
        models=ctx.catalog.models,
        publish=ctx.events.publish,
        facts=LearnedFacts(ctx.store),
        pins=PinStore(ctx.store),
        measurements=MeasurementFeed(ctx.store, ctx.events),
        elsewhere=ctx.fleet.elsewhere,
    )
