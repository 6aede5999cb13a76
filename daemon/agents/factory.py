"""Builds the agents component for the daemon: `daemon.agents`, the idle-time scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roundhouse.daemon.agents.registry import discover
from roundhouse.daemon.agents.scheduler import AgentScheduler
from roundhouse.daemon.agents.settings import AgentsSettings

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


async def build(ctx: Daemon) -> dict[str, Any]:
    settings = getattr(ctx.settings, "agents", None)
    if not isinstance(settings, AgentsSettings):
        settings = AgentsSettings()
    agents = await discover(ctx)
    return {"agents": AgentScheduler(ctx, settings, agents)}
