"""The performance analyst's figures fill the tiers the user left open: a real daemon with the
real store and event bus, Ollama models behind the stand-in server, dry-run decisions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from roundhouse.daemon.agents.builtin.measurements import announce, record_measurement, suggest_tiers
from roundhouse.daemon.app import Daemon
from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.models import ChatRequest, ModelInfo
from roundhouse.daemon.routing import policy
from roundhouse.daemon.routing.measured import MeasuredTiers
from roundhouse.daemon.routing.settings import RoutingSettings
from roundhouse.daemon.routing.tiers import tier_map
from roundhouse.daemon.secrets import Secrets
from tests.daemon.memory.daemon_helpers import running_daemon
from tests.standins.ollama_server import FakeModel, OllamaStandin

BIG, MID, SMALL = "ollama/qwen2.5:14b", "ollama/llama3.1:8b", "ollama/llama3.2:1b"
# By size the 14B model would get `reasoning`; measured, the 8B one answers better.
FIGURES = {
    BIG: {"quality": 0.62, "tokens_per_s": 14.0, "load_s": 9.0},
    MID: {"quality": 0.81, "tokens_per_s": 31.0, "load_s": 4.0},
    SMALL: {"quality": 0.45, "tokens_per_s": 95.0, "load_s": 1.2},
    "local/smollm2-135m": {"quality": 0.1, "tokens_per_s": 240.0, "load_s": 0.3},  # too weak to serve
}


@pytest.fixture
async def daemon(rh_home: Path, embedder: Embedder, test_secrets: Secrets) -> AsyncIterator[Daemon]:
    models = [
        FakeModel("qwen2.5:14b", parameter_size="14B"),
        FakeModel("llama3.1:8b", parameter_size="8B"),
        FakeModel("llama3.2:1b", parameter_size="1B"),
    ]
    with OllamaStandin(models=models) as ollama:
        apps = {name: {"default_tier": name} for name in ("fast", "balanced", "reasoning")}
        async with running_daemon(
            rh_home,
            embedder,
            test_secrets,
            ollama={"hosts": [ollama.url], "discover_local": False},
            routing={"knn": False, "mode": "local", "apps": apps},
        ) as running:
            yield running


async def measure(daemon: Daemon, figures: dict[str, dict[str, Any]]) -> None:
    """What a performance run leaves behind: its rows, then its announcement."""
    for model, row in figures.items():
        await record_measurement(
            daemon.store, {"model": model, "measured": time.time(), "questions": 50, **row}
        )
    announce(daemon.events, figures, suggest_tiers(figures))


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def explain(daemon: Daemon, tier: str) -> tuple[str, list[str]]:
    request = ChatRequest(model="auto", messages=[{"role": "user", "content": "hello there"}], app=tier)
    route = await daemon.router.decide(request, dry_run=True)  # type: ignore[call-arg]
    return route.model.id, route.reasons


async def test_measured_figures_choose_the_models_of_open_tiers_and_say_so(daemon: Daemon) -> None:
    chosen, reasons = await explain(daemon, "reasoning")
    assert chosen == BIG  # before any measurement: the largest model
    assert not any("measured performance" in r for r in reasons)

    await measure(daemon, FIGURES)
    await until(lambda: bool(daemon.router.measured), "the router to read the figures")  # type: ignore[attr-defined]

    chosen, reasons = await explain(daemon, "reasoning")
    assert chosen == MID
    assert reasons[-1] == (
        "tier from measured performance: reasoning takes the best quality on the built-in evaluation; "
        f"{MID} measured quality 81 %, 31 tok/s"
    )
    chosen, reasons = await explain(daemon, "fast")
    assert chosen == SMALL  # the fastest good enough, not the faster but weak embedded model
    assert "tier from measured performance: fast takes the fastest model good enough" in reasons[-1]


async def test_the_users_own_tier_list_wins_over_measurements(daemon: Daemon) -> None:
    await measure(daemon, FIGURES)
    await until(lambda: bool(daemon.router.measured), "the router to read the figures")  # type: ignore[attr-defined]
    await daemon.router.update_policy({"tiers": {"reasoning": [BIG]}})  # type: ignore[attr-defined]

    chosen, reasons = await explain(daemon, "reasoning")
    assert chosen == BIG
    assert not any("measured performance" in r for r in reasons)
    chosen, _ = await explain(daemon, "fast")
    assert chosen == SMALL  # the tier the user left open still follows the figures


async def test_a_new_run_moves_the_tier_to_the_new_best(daemon: Daemon) -> None:
    await measure(daemon, FIGURES)
    await until(lambda: bool(daemon.router.measured), "the router to read the figures")  # type: ignore[attr-defined]
    assert (await explain(daemon, "reasoning"))[0] == MID

    await measure(daemon, {BIG: {"quality": 0.9, "tokens_per_s": 15.0, "load_s": 9.0}})
    await until(
        lambda: daemon.router.measured[BIG]["quality"] == 0.9,  # type: ignore[attr-defined]
        "the router to read the new run",
    )
    chosen, reasons = await explain(daemon, "reasoning")
    assert chosen == BIG and f"{BIG} measured quality 90 %, 15 tok/s" in reasons[-1]


def local(model_id: str) -> ModelInfo:
    return ModelInfo(id=model_id, backend="ollama", native=model_id.split("/", 1)[1], local=True)


def test_only_near_equal_leaders_give_way_to_a_loaded_model() -> None:
    models = [local(BIG), local(MID), local(SMALL)]
    figures = {**FIGURES, BIG: {"quality": 0.79, "tokens_per_s": 14.0}}  # within 5 points of the best
    measured = MeasuredTiers.from_figures(figures, 0.3)
    settings = RoutingSettings(knn=False, mode="local", apps={"x": {"default_tier": "reasoning"}})  # type: ignore[dict-item]
    tiers = tier_map(models, measured.fill({}))
    leaders = {t: measured.leaders[t] for t in measured.open_tiers({})}

    def chosen(loaded: set[str]) -> str:
        signals = policy.Signals(asked="auto", app="x", loaded=frozenset(loaded), leaders=leaders)
        return policy.decide(signals, settings, tiers).model.id

    assert chosen(set()) == MID
    assert chosen({BIG}) == BIG  # as good, and already in memory
    assert chosen({SMALL}) == MID  # far weaker: loading the best is worth it
