"""Builds the routing component for the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roundhouse.daemon.agents.builtin.measurements import MeasurementFeed
from roundhouse.daemon.routing.router import PolicyRouter
from roundhouse.daemon.routing.storage import RoutingStore

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def build(ctx: Daemon) -> PolicyRouter:
    # Residency and spend are read through ctx at decision time, so build order never matters.
    return PolicyRouter(
        catalog=ctx.catalog,
        settings=ctx.settings.routing,
        store=RoutingStore(ctx.store),
        embedder=ctx.embedder,
        residency=lambda: ctx.residency,
        spend=lambda: ctx.spend,
        on_exhausted=lambda: str(getattr(getattr(ctx.spend, "settings", None), "on_exhausted", "local")),
        measurements=MeasurementFeed(ctx.store, ctx.events),
    )
