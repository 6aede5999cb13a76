"""A real daemon in the test's own event loop, with the memory and agents components in place.

The daemon is the real composition root with the real embedded model; the cloud is the
OpenAI-compatible stand-in. Where app.py does not build the memory or agents component yet,
their factories are applied the way app.py applies every concern's factory.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from roundhouse.daemon.agents.scheduler import AgentScheduler
from roundhouse.daemon.agents.settings import AgentsSettings
from roundhouse.daemon.app import Daemon
from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.config import load_settings
from roundhouse.daemon.memory import factory as memory_factory
from roundhouse.daemon.secrets import Secrets

CLOUD = "cloudy"


def settings_for(cloud_url: str | None, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "ollama": {"discover_local": False},
        "residency": {"enabled": False},
        "routing": {"knn": False},
    }
    if cloud_url:
        settings["openai_compat"] = [{"name": CLOUD, "base_url": cloud_url, "local": False}]
    settings.update(overrides)
    return settings


def attach(
    daemon: Daemon, agents: dict[str, Any] | None = None, agent_settings: AgentsSettings | None = None
) -> None:
    if getattr(daemon, "memory", None) is None:
        daemon.memory = memory_factory.build(daemon)["memory"]  # type: ignore[attr-defined]
    if agents is not None:
        daemon.agents = AgentScheduler(daemon, agent_settings or AgentsSettings(), agents)  # type: ignore[attr-defined]


@asynccontextmanager
async def running_daemon(
    home: Path, embedder: Embedder, secrets: Secrets, cloud_url: str | None = None, **overrides: Any
) -> AsyncIterator[Daemon]:
    """`home` is the `rh_home` fixture: it must be ROUNDHOUSE_HOME so nothing touches the user's files."""
    if Path(os.environ.get("ROUNDHOUSE_HOME", "")) != home:
        raise RuntimeError("use the rh_home fixture: ROUNDHOUSE_HOME must point at the test's folder")
    daemon = Daemon(load_settings(**settings_for(cloud_url, **overrides)), secrets=secrets, embedder=embedder)
    await daemon.start()
    attached = getattr(daemon, "memory", None) is None
    attach(daemon)
    try:
        yield daemon
    finally:
        if attached:
            await daemon.memory.stop()  # type: ignore[attr-defined]
        await daemon.stop()
