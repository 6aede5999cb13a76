"""Spend: prices from litellm's offline map, budgets and their events, forecast and savings,
over a real SQLite ledger."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from roundhouse.daemon.events import EventBus
from roundhouse.daemon.models import ModelInfo, Usage
from roundhouse.daemon.spend.service import SpendService
from roundhouse.daemon.spend.settings import SpendSettings
from roundhouse.daemon.store import Store

GPT4O = ModelInfo("openai/gpt-4o", "cloud", "openai/gpt-4o", False)
LOCAL = ModelInfo("local/smollm2-135m", "embedded", "smollm2-135m", True)
# The 15th, at noon local time: half a month elapsed is easy to reason about.
NOON = datetime(2026, 11, 15, 12, 0, 0).astimezone().timestamp()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "rh.db")
    yield opened  # type: ignore[misc]
    opened.close()


def add_row(
    store: Store, ts: float, *, app: str = "webui", usd: float = 0.0, backend: str = "cloud", **kw: Any
) -> None:
    row = {
        "id": f"rh-{ts}-{app}-{usd}-{backend}",
        "ts": ts,
        "app": app,
        "dialect": "openai",
        "model_used": kw.get("model", "openai/gpt-4o" if backend == "cloud" else "local/smollm2-135m"),
        "backend": backend,
        "tokens_in": kw.get("tokens_in", 0),
        "tokens_out": kw.get("tokens_out", 0),
        "status": 200,
        "cost_usd": usd,
        "cache": kw.get("cache", "miss"),
    }
    store.write_sync(lambda db: db["requests"].insert(row))


def spend(store: Store, now: list[float], events: EventBus | None = None, **settings: Any) -> SpendService:
    return SpendService(
        store,
        SpendSettings(**settings),
        events=events,
        local_backends=lambda: {"embedded", "ollama"},
        clock=lambda: now[0],
    )


def test_cost_comes_from_litellms_price_map(store: Store) -> None:
    service = spend(store, [NOON])
    assert service.cost(GPT4O, Usage(1_000_000, 0)) == pytest.approx(2.5)
    assert service.cost(GPT4O, Usage(0, 1_000_000)) == pytest.approx(10.0)
    assert service.cost(LOCAL, Usage(10_000, 10_000)) == 0.0
    haiku = ModelInfo(
        "anthropic/claude-3-5-haiku-latest", "cloud", "anthropic/claude-3-5-haiku-latest", False
    )
    assert service.cost(haiku, Usage(1_000_000, 0)) > 0, "a -latest alias finds its dated entry"
    unknown = ModelInfo("cloudy/mystery", "cloudy", "mystery", False)
    assert service.cost(unknown, Usage(1000, 1000)) == 0.0


def test_price_overrides_win(store: Store) -> None:
    service = spend(store, [NOON], prices={"openai/gpt-4o": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}})
    assert service.cost(GPT4O, Usage(1_000_000, 1_000_000)) == pytest.approx(3.0)


def test_budgets_block_and_threshold_events_fire_once(store: Store) -> None:
    now = [NOON]
    events = EventBus()
    service = spend(store, now, events, budget={"daily_usd": 1.0, "monthly_usd": 10.0})
    assert service.budget_block("webui") is None
    service.note("webui", 0.55)
    assert [e.data["threshold"] for e in events.recent(kinds={"budget.threshold"})] == [50]
    service.note("webui", 0.30)
    service.note("webui", 0.01)
    assert [e.data["threshold"] for e in events.recent(kinds={"budget.threshold"})] == [50, 80]
    assert service.budget_block("webui") is None
    service.note("webui", 0.20)
    fired = [e.data for e in events.recent(kinds={"budget.threshold"})]
    assert [e["threshold"] for e in fired] == [50, 80, 100]
    assert fired[-1]["window"] == "daily" and fired[-1]["action"] == "local"
    assert "daily budget spent ($1.06 of $1.00)" in (service.budget_block("other-app") or "")

    # A restart reads the ledger and remembers which events it already sent.
    add_row(store, NOON - 60, usd=1.06)
    restarted_events = EventBus()
    restarted = spend(store, now, restarted_events, budget={"daily_usd": 1.0, "monthly_usd": 10.0})
    restarted.check_thresholds()
    assert restarted.budget_block("webui") is not None
    assert restarted_events.recent(kinds={"budget.threshold"}) == []

    now[0] += 86400  # the next day: the daily budget has room again
    assert restarted.budget_block("webui") is None


def test_per_app_budgets_only_limit_that_app(store: Store) -> None:
    service = spend(store, [NOON], apps={"agents": {"daily_usd": 0.5}})
    service.note("agents", 0.6)
    assert "app 'agents' daily budget spent" in (service.budget_block("agents") or "")
    assert service.budget_block("webui") is None


def test_forecast_extends_the_recent_daily_rate_to_month_end(store: Store) -> None:
    for day in range(1, 15):
        add_row(store, datetime(2026, 11, day, 13).astimezone().timestamp(), usd=1.0)
    service = spend(store, [NOON], budget={"monthly_usd": 20.0})
    forecast = service.forecast()
    assert forecast["month"] == "2026-11" and forecast["spent_usd"] == pytest.approx(14.0)
    assert forecast["daily_rate_usd"] == pytest.approx(1.0)
    assert forecast["forecast_usd"] == pytest.approx(14.0 + 15.5, abs=0.05)
    assert forecast["over_budget"] is True


def test_saved_prices_local_and_cached_work_at_the_reference_model(store: Store) -> None:
    add_row(store, NOON - 100, backend="embedded", tokens_in=1_000_000, tokens_out=0)
    add_row(store, NOON - 90, backend="cloud", usd=3.0, tokens_in=1_000_000, cache="hit")
    add_row(store, NOON - 80, backend="cloud", usd=2.5, tokens_in=1_000_000)
    saved = spend(store, [NOON], reference_model="gpt-4o").saved("monthly")
    assert saved["requests"] == 2 and saved["cache_hits"] == 1
    assert saved["saved_usd"] == pytest.approx(5.0)


async def test_runtime_budget_edits_validate_and_persist(store: Store) -> None:
    service = spend(store, [NOON])
    await service.update({"budget": {"daily_usd": 2.0}, "on_exhausted": "refuse"})
    assert service.settings.budget.daily_usd == 2.0
    with pytest.raises(ValidationError):
        await service.update({"budget": {"daily_usd": -5}})
    again = spend(store, [NOON])
    assert again.settings.budget.daily_usd == 2.0 and again.settings.on_exhausted == "refuse"
    await again.reset()
    assert spend(store, [NOON]).settings.budget.daily_usd is None


def test_breakdowns_by_app_and_day(store: Store) -> None:
    add_row(store, NOON - 10, app="webui", usd=1.0)
    add_row(store, NOON - 20, app="editor", usd=0.0, backend="embedded")
    add_row(store, NOON - 86400, app="webui", usd=0.5)
    service = spend(store, [NOON])
    day, month = service._window("daily"), service._window("monthly")
    by_app = service.ledger.grouped(month.start, month.end, lambda r: r["app"])
    assert [(g["name"], g["usd"], g["requests"]) for g in by_app] == [("webui", 1.5, 2), ("editor", 0.0, 1)]
    days = service.ledger.by_day(month.start, day.end)
    assert [d["usd"] for d in days] == [0.5, 1.0]
