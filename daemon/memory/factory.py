"""Builds the memory component for the daemon: `daemon.memory` (and its Open WebUI sync)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.memory.component import MemoryComponent, build_component
from roundhouse.daemon.memory.settings import MemorySettings

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)


def build(ctx: Daemon) -> dict[str, Any]:
    settings = getattr(ctx.settings, "memory", None)
    if not isinstance(settings, MemorySettings):
        settings = MemorySettings()
    component: MemoryComponent = build_component(ctx, settings)
    return {"memory": component}
