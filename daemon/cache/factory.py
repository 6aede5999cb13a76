"""Builds the response cache for the daemon (called once by app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roundhouse.daemon.cache.service import Cache

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def build(ctx: Daemon) -> Cache:
    events = getattr(ctx, "events", None)
    cache = Cache(
        ctx.settings.cache,
        store=ctx.store,
        embedder=ctx.embedder,
        publish=events.publish if events is not None else None,
    )
    cache.open()
    return cache
