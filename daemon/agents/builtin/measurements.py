"""What the performance analyst measured: its table, the tiers it suggests, and the feed that
routing (tier capabilities) and residency (load costs) follow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from roundhouse.daemon.events import EventBus
from roundhouse.daemon.store import Store

log = logging.getLogger(__name__)
TABLE = "agent_model_performance"
COMPONENT = "agents.performance"
EVENT = "agents.performance"
MIGRATIONS: list[str] = [
    f"""
    CREATE TABLE {TABLE} (
        model TEXT NOT NULL,
        measured REAL NOT NULL,
        run_id TEXT,
        load_s REAL,
        tokens_per_s REAL,
        ttft_ms REAL,
        quality REAL,
        questions INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (model, measured)
    )
    """,
]
Figures = dict[str, dict[str, Any]]


def latest_performance(store: Store) -> Figures:
    """The newest measurement of each local model: what routing and residency read."""
    store.migrate(COMPONENT, MIGRATIONS)
    rows = store.db.query(
        f"SELECT p.* FROM {TABLE} p JOIN (SELECT model, MAX(measured) AS m FROM {TABLE} GROUP BY model) l "
        "ON p.model = l.model AND p.measured = l.m"
    )
    return {r["model"]: dict(r) for r in rows}


async def record_measurement(store: Store, row: dict[str, Any]) -> None:
    """Keep one model's figures (`model`, `measured`, `load_s`, `tokens_per_s`, `ttft_ms`,
    `quality`, `questions`, `run_id`)."""
    store.migrate(COMPONENT, MIGRATIONS)
    await store.write(lambda db: db[TABLE].insert(row, pk=("model", "measured")))


def announce(events: EventBus, results: Figures, tiers: dict[str, list[str]]) -> None:
    """Tell the components that follow the figures that a run has finished."""
    events.publish(EVENT, {"models": results, "suggested_tiers": tiers})


def suggest_tiers(measured: Figures, min_quality: float = 0.3) -> dict[str, list[str]]:
    """Local tiers from measurements, best first: `fast` by speed among models good enough,
    `reasoning` by quality, `balanced` by quality times speed. Routing's tier map takes this shape."""
    usable = {m: r for m, r in measured.items() if (r.get("quality") or 0) >= min_quality}
    if not usable:
        return {}

    def speed(m: str) -> float:
        return float(usable[m].get("tokens_per_s") or 0)

    def quality(m: str) -> float:
        return float(usable[m].get("quality") or 0)

    return {
        "fast": sorted(usable, key=speed, reverse=True),
        "balanced": sorted(usable, key=lambda m: quality(m) * speed(m), reverse=True),
        "reasoning": sorted(usable, key=quality, reverse=True),
    }


class MeasurementFeed:
    """The latest figures for a component, read at start and again after every analyst run."""

    def __init__(self, store: Store, events: EventBus | None = None) -> None:
        self.store = store
        self.events = events
        self._task: asyncio.Task[None] | None = None

    async def latest(self) -> Figures:
        return await asyncio.to_thread(latest_performance, self.store)

    async def start(self, apply: Callable[[Figures], None]) -> None:
        """Apply the stored figures now, then follow the analyst's runs until `stop()`."""
        apply(await self.latest())
        if self.events is not None and self._task is None:
            self._task = asyncio.create_task(self._follow(self.events, apply), name="measurement-feed")

    async def _follow(self, events: EventBus, apply: Callable[[Figures], None]) -> None:
        async for _event in events.subscribe({EVENT}):
            try:
                apply(await self.latest())
            except Exception:
                log.exception("applying the performance analyst's figures failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
