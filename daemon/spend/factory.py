"""Builds the spend component for the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roundhouse.daemon.spend.service import SpendService

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def build(ctx: Daemon) -> SpendService:
    def local_backends() -> set[str]:
        return {name for name, backend in ctx.catalog.backends.items() if backend.local}

    return SpendService(ctx.store, ctx.settings.spend, events=ctx.events, local_backends=local_backends)
