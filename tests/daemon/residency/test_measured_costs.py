"""The load time the performance analyst measured is a model's reload cost before residency
has loaded it itself: a real daemon with the real store and event bus, system-RAM readings and
Ollama models behind the stand-in server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roundhouse.daemon.agents.builtin.measurements import announce, record_measurement, suggest_tiers
from roundhouse.daemon.app import Daemon
from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.residency.manager import ResidencyManager
from roundhouse.daemon.routing.route import Target
from roundhouse.daemon.secrets import Secrets
from tests.daemon.memory.daemon_helpers import running_daemon
from tests.standins.ollama_server import FakeModel, OllamaStandin

GiB = 1024**3
ALPHA, BETA, GAMMA = "ollama/alpha:1b", "ollama/beta:1b", "ollama/gamma:1b"


@pytest.fixture
async def rig(
    rh_home: Path, embedder: Embedder, test_secrets: Secrets
) -> AsyncIterator[tuple[Daemon, OllamaStandin]]:
    models = [FakeModel(n, size=GiB // 2, parameter_size="1B") for n in ("alpha:1b", "beta:1b", "gamma:1b")]
    residency = {
        "source": "cpu",
        "max_loaded": 2,
        "preload": False,
        "ensure_grace_s": 0,
        "headroom_gb": 0,
        "context_length": 1024,
        "reconcile_interval_s": 3600,
    }
    with OllamaStandin(models=models) as ollama:
        async with running_daemon(
            rh_home,
            embedder,
            test_secrets,
            ollama={"hosts": [ollama.url], "discover_local": False},
            residency=residency,
        ) as daemon:
            yield daemon, ollama


async def measure(daemon: Daemon, load_seconds: dict[str, float]) -> None:
    """What a performance run leaves behind: its rows, then its announcement."""
    figures: dict[str, dict[str, Any]] = {
        m: {"load_s": s, "quality": 0.5, "tokens_per_s": 20.0} for m, s in load_seconds.items()
    }
    for model, row in figures.items():
        await record_measurement(
            daemon.store, {"model": model, "measured": time.time(), "questions": 5, **row}
        )
    announce(daemon.events, figures, suggest_tiers(figures))
    manager = residency_of(daemon)
    for _ in range(500):
        if all(manager.facts.load_source(m) == "measured" for m in load_seconds):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("residency did not take the measured load times")


def residency_of(daemon: Daemon) -> ResidencyManager:
    assert isinstance(daemon.residency, ResidencyManager)
    return daemon.residency


async def target(daemon: Daemon, model_id: str) -> Target:
    await daemon.catalog.refresh(force=True)
    found = daemon.catalog.resolve(model_id)
    assert found is not None, model_id
    return found


async def test_the_measured_load_time_is_the_reload_cost_before_any_load(
    rig: tuple[Daemon, OllamaStandin],
) -> None:
    daemon, ollama = rig
    manager = residency_of(daemon)
    for model in (ALPHA, BETA):
        await manager.track(await target(daemon, model))
    guessed = {v.model_id: v.load_seconds for v in manager.views(manager.clock())}

    await measure(daemon, {ALPHA: 12.5})

    views = {v.model_id: v for v in manager.views(manager.clock())}
    assert views[ALPHA].load_seconds == 12.5 != guessed[ALPHA]
    assert views[BETA].load_seconds == guessed[BETA]  # not measured: still the size-based guess
    assert manager.policy.break_even_s(views[ALPHA]) == manager.settings.idle_rent_ratio * 12.5
    rows = {m["id"]: m for m in (await manager.status())["models"]}
    assert rows[ALPHA]["load_seconds"] == 12.5 and rows[ALPHA]["load_seconds_source"] == "measured"
    assert rows[BETA]["load_seconds_source"] == "estimated"
    assert ollama.loaded == {}  # nothing was loaded to learn it


async def test_the_model_that_is_dearer_to_reload_keeps_its_place(rig: tuple[Daemon, OllamaStandin]) -> None:
    daemon, ollama = rig
    manager = residency_of(daemon)
    # Both equal in size and use; by name alone alpha would go first.
    await measure(daemon, {ALPHA: 20.0, BETA: 1.0})
    alpha, beta, gamma = [await target(daemon, m) for m in (ALPHA, BETA, GAMMA)]
    for loaded in (alpha, beta):  # loaded behind residency's back, so it never timed them itself
        await loaded.backend.load(loaded.model)
    await manager.reconcile()
    for used in (alpha, beta):
        await manager.ensure(used)
    assert set(ollama.loaded) == {"alpha:1b", "beta:1b"}

    await manager.ensure(gamma)  # at most two models: one must go

    assert set(ollama.loaded) == {"alpha:1b", "gamma:1b"}
    unload = next(e for e in daemon.events.recent() if e.kind == "residency.unload")
    assert unload.data == {"model": BETA, "backend": "ollama", "reason": f"evicted for {GAMMA}"}
