"""Finding agents: every entry point in the `roundhouse.agents` group, built-ins included.

An entry point names a factory `create(daemon) -> Agent` (or a list of agents, or an
awaitable of either). A factory that fails is logged and skipped; the others still load.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from typing import Any

from roundhouse.daemon.agents.protocol import Agent

log = logging.getLogger(__name__)
ENTRY_POINTS = "roundhouse.agents"


async def discover(daemon: Any, group: str = ENTRY_POINTS) -> dict[str, Agent]:
    agents: dict[str, Agent] = {}
    for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            made = entry_point.load()(daemon)
            if inspect.isawaitable(made):
                made = await made
        except Exception:
            log.exception("agents: plugin %s failed to load", entry_point.name)
            continue
        for agent in made if isinstance(made, list | tuple) else [made]:
            if not isinstance(agent, Agent):
                log.error("agents: plugin %s did not return an agent", entry_point.name)
                continue
            if agent.name in agents:
                log.error("agents: two agents are named %s; keeping the first", agent.name)
                continue
            agents[agent.name] = agent
    return agents
