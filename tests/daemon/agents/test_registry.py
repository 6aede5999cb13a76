"""Agents register through the `roundhouse.agents` entry points, built-ins the same way."""

from __future__ import annotations

import importlib.metadata

from roundhouse.daemon.agents.protocol import Agent
from roundhouse.daemon.agents.registry import ENTRY_POINTS, discover

BUILT_IN = {"performance", "privacy", "prompts", "costs"}


def test_the_built_in_agents_are_entry_points() -> None:
    declared = {e.name: e.value for e in importlib.metadata.entry_points(group=ENTRY_POINTS)}
    assert set(declared) >= BUILT_IN, f"declared: {declared}"


async def test_discovery_builds_each_agent(rh_home: object) -> None:
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.config import load_settings

    daemon = Daemon(load_settings(ollama={"discover_local": False}, embedded={"enabled": False}))
    try:
        agents = await discover(daemon)
        assert set(agents) >= BUILT_IN
        assert all(
            isinstance(a, Agent) and a.description and a.default_every_s >= 60 for a in agents.values()
        )
        assert await discover(daemon, group="roundhouse.no-such-group") == {}
    finally:
        await daemon.stop()
