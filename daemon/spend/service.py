"""Spend: the cost of each request, budgets with threshold events, forecast and savings."""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.models import ModelInfo, Usage
from roundhouse.daemon.routing.patching import deep_merge
from roundhouse.daemon.spend.ledger import Ledger
from roundhouse.daemon.spend.periods import Window, windows
from roundhouse.daemon.spend.prices import PriceMap
from roundhouse.daemon.spend.settings import Budget, SpendSettings
from roundhouse.daemon.store import Store

if TYPE_CHECKING:
    from roundhouse.daemon.events import Event

log = logging.getLogger(__name__)
COMPONENT = "spend"
MIGRATIONS: list[str] = [
    "CREATE TABLE spend_alerts (key TEXT PRIMARY KEY, ts REAL NOT NULL)",
    "CREATE TABLE spend_settings (id INTEGER PRIMARY KEY CHECK (id = 1), patch TEXT NOT NULL, "
    "updated REAL NOT NULL)",
]
RESYNC_S = 60.0


class SpendService:
    """Implements the gateway's `Spend` protocol (`cost`) and the router's budget check
    (`budget_block`). Running totals follow the gateway's `request.done` events, so the
    check costs nothing on the request path; the ledger is re-read every minute."""

    def __init__(
        self,
        store: Store,
        settings: SpendSettings,
        *,
        events: Any | None = None,
        local_backends: Callable[[], set[str]] = set,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.events = events
        self.file_settings = settings
        self.settings = settings
        self._patch: dict[str, Any] = {}
        self.prices = PriceMap(settings.prices)
        self.ledger = Ledger(lambda: store.db)
        self._local_backends = local_backends
        self._clock = clock
        self._window_keys: tuple[str, str] = ("", "")
        # When the current day ends: until then the windows cannot have changed (a month
        # always ends at a day's end), so the request path skips recomputing them.
        self._day_ends = 0.0
        self._day: dict[str | None, float] = {}  # app (None = overall) → dollars today
        self._month: dict[str | None, float] = {}
        self._fired: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        store.migrate(COMPONENT, MIGRATIONS)
        self._load_patch()
        self.resync()

    # the Spend protocol -------------------------------------------------------------------
    def cost(self, model: ModelInfo, usage: Usage) -> float:
        return round(self.prices.cost(model, usage), 10)

    # budgets -------------------------------------------------------------------------------
    def resync(self) -> None:
        """Read this day's and month's totals from the ledger."""
        day, month = windows(self._clock())
        self._window_keys = (day.key, month.key)
        self._day_ends = day.end
        by_app_day = self.ledger.totals_by_app(day.start, day.end)
        by_app_month = self.ledger.totals_by_app(month.start, month.end)
        self._day = {None: sum(by_app_day.values()), **by_app_day}
        self._month = {None: sum(by_app_month.values()), **by_app_month}
        self._fired = {row["key"] for row in self.store.db.query("SELECT key FROM spend_alerts")}

    def note(self, app: str, usd: float) -> None:
        """Count a finished request's cost (fed from `request.done` events) and fire thresholds."""
        self._roll()
        if usd:
            for totals in (self._day, self._month):
                totals[None] = totals.get(None, 0.0) + usd
                totals[app] = totals.get(app, 0.0) + usd
        self.check_thresholds(app)

    def _roll(self) -> None:
        now = self._clock()
        if now < self._day_ends:
            return
        day, month = windows(now)
        if (day.key, month.key) != self._window_keys:
            self.resync()

    def _budgets(self, app: str | None) -> Budget | None:
        return self.settings.budget if app is None else self.settings.apps.get(app)

    def _scopes(self, app: str) -> list[str | None]:
        return [None, app] if app in self.settings.apps else [None]

    def budget_block(self, app: str) -> str | None:
        """Why cloud spend is not allowed now for `app`, or None while budgets have room."""
        self._roll()
        for scope in self._scopes(app):
            budget = self._budgets(scope)
            if budget is None:
                continue
            who = "overall" if scope is None else f"app '{scope}'"
            for name, limit, spent in (
                ("daily", budget.daily_usd, self._day.get(scope, 0.0)),
                ("monthly", budget.monthly_usd, self._month.get(scope, 0.0)),
            ):
                if limit is not None and spent >= limit:
                    return f"{who} {name} budget spent (${spent:.2f} of ${limit:.2f})"
        return None

    def check_thresholds(self, app: str | None = None) -> list[dict[str, Any]]:
        """Publish `budget.threshold` once per scope, window, period and threshold crossed."""
        fired: list[dict[str, Any]] = []
        day_key, month_key = self._window_keys
        scopes: list[str | None] = [None] if app is None else self._scopes(app)
        for scope in scopes:
            budget = self._budgets(scope)
            if budget is None:
                continue
            for name, period, limit, spent in (
                ("daily", day_key, budget.daily_usd, self._day.get(scope, 0.0)),
                ("monthly", month_key, budget.monthly_usd, self._month.get(scope, 0.0)),
            ):
                if not limit:
                    continue
                percent = spent / limit * 100
                for threshold in self.settings.thresholds:
                    key = f"{scope or '*'}|{name}|{period}|{threshold}"
                    if percent >= threshold and key not in self._fired:
                        self._fired.add(key)
                        self.store.submit(
                            lambda db, key=key: db["spend_alerts"].insert(
                                {"key": key, "ts": time.time()}, pk="key", replace=True
                            )
                        )
                        event = {
                            "scope": "overall" if scope is None else f"app:{scope}",
                            "app": scope,
                            "window": name,
                            "period": period,
                            "threshold": threshold,
                            "percent": round(percent, 1),
                            "spent_usd": round(spent, 6),
                            "budget_usd": limit,
                            "action": self.settings.on_exhausted if threshold >= 100 else None,
                        }
                        fired.append(event)
                        if self.events is not None:
                            self.events.publish("budget.threshold", event)
        return fired

    # runtime edits -------------------------------------------------------------------------
    def _load_patch(self) -> None:
        rows = list(self.store.db.query("SELECT patch FROM spend_settings WHERE id = 1"))
        if rows:
            patch = json.loads(rows[0]["patch"])
            try:
                self._apply(patch)
            except ValueError as exc:
                log.warning("spend: ignoring saved budget edits that no longer validate: %s", exc)

    def _apply(self, patch: dict[str, Any]) -> None:
        settings = SpendSettings.model_validate(deep_merge(self.file_settings.model_dump(), patch))
        self._patch = patch
        self.settings = settings
        self.prices.overrides = dict(settings.prices)

    async def update(self, patch: dict[str, Any]) -> SpendSettings:
        merged = deep_merge(self._patch, patch)
        self._apply(merged)
        row = {"id": 1, "patch": json.dumps(merged), "updated": time.time()}
        await self.store.write(lambda db: db["spend_settings"].insert(row, pk="id", replace=True))
        self.check_thresholds()
        for app in self.settings.apps:
            self.check_thresholds(app)
        return self.settings

    async def reset(self) -> SpendSettings:
        self._patch = {}
        self.settings = self.file_settings
        self.prices.overrides = dict(self.file_settings.prices)
        await self.store.write(lambda db: db.execute("DELETE FROM spend_settings"))
        return self.settings

    # reports -------------------------------------------------------------------------------
    def budget_status(self) -> dict[str, Any]:
        self._roll()

        def describe(scope: str | None, budget: Budget) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, limit, spent in (
                ("daily", budget.daily_usd, self._day.get(scope, 0.0)),
                ("monthly", budget.monthly_usd, self._month.get(scope, 0.0)),
            ):
                out[name] = {
                    "spent_usd": round(spent, 6),
                    "budget_usd": limit,
                    "percent": round(spent / limit * 100, 1) if limit else None,
                    "exhausted": limit is not None and spent >= limit,
                }
            return out

        return {
            "overall": describe(None, self.settings.budget),
            "apps": {app: describe(app, budget) for app, budget in self.settings.apps.items()},
            "on_exhausted": self.settings.on_exhausted,
            "thresholds": self.settings.thresholds,
        }

    def forecast(self) -> dict[str, Any]:
        """Month-end spend: this month so far plus the recent daily rate for the days left."""
        now = self._clock()
        _day, month = windows(now)
        spent = self.ledger.total(month.start, now + 1)
        elapsed_days = max((now - month.start) / 86400, 1 / 24)
        local = datetime.fromtimestamp(now).astimezone()
        days_in_month = calendar.monthrange(local.year, local.month)[1]
        recent_days = min(7.0, elapsed_days)
        recent = self.ledger.total(now - recent_days * 86400, now + 1)
        rate = recent / recent_days
        remaining_days = max(days_in_month - elapsed_days, 0.0)
        projected = spent + rate * remaining_days
        budget = self.settings.budget.monthly_usd
        return {
            "month": month.key,
            "spent_usd": round(spent, 6),
            "daily_rate_usd": round(rate, 6),
            "days_left": round(remaining_days, 2),
            "forecast_usd": round(projected, 6),
            "budget_usd": budget,
            "over_budget": budget is not None and projected > budget,
        }

    def saved(self, window: str = "monthly") -> dict[str, Any]:
        """What the requests served locally (or from the cache) would have cost on the
        reference cloud model."""
        span = self._window(window)
        served = self.ledger.served_locally(span.start, span.end, self._local_backends())
        reference = self.settings.reference_model
        usd = self.prices.reference_cost(reference, served["tokens_in"], served["tokens_out"])
        return {
            "window": window,
            "period": span.key,
            "reference_model": reference,
            "saved_usd": round(usd, 6),
            **served,
        }

    def _window(self, name: str) -> Window:
        day, month = windows(self._clock())
        if name == "daily":
            return day
        if name == "monthly":
            return month
        raise ValueError("window must be 'daily' or 'monthly'")

    def summary(self) -> dict[str, Any]:
        return {"budgets": self.budget_status(), "forecast": self.forecast(), "saved": self.saved("monthly")}

    # life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(asyncio.to_thread(self.prices.load)))
        if self.events is not None:
            self.events.listen("request.done", self._count)
        self._tasks.append(asyncio.create_task(self._resync_loop()))

    async def stop(self) -> None:
        if self.events is not None:
            self.events.unlisten("request.done", self._count)
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _count(self, event: Event) -> None:
        self.note(str(event.data.get("app") or "unknown"), float(event.data.get("cost_usd") or 0.0))

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(RESYNC_S)
            try:
                await asyncio.to_thread(self.resync)
            except Exception:
                log.exception("spend: re-reading the ledger failed")
