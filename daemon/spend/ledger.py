"""Reads of the ledger (the `requests` table the gateway writes): totals and breakdowns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils


class Ledger:
    def __init__(self, db: Callable[[], sqlite_utils.Database]) -> None:
        self._db = db

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return list(self._db().query(sql, params))

    def total(self, start: float, end: float, app: str | None = None) -> float:
        sql = "SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM requests WHERE ts >= ? AND ts < ?"
        params: list[Any] = [start, end]
        if app is not None:
            sql += " AND app = ?"
            params.append(app)
        return float(self._query(sql, params)[0]["usd"])

    def totals_by_app(self, start: float, end: float) -> dict[str, float]:
        rows = self._query(
            "SELECT app, COALESCE(SUM(cost_usd), 0) AS usd FROM requests "
            "WHERE ts >= ? AND ts < ? GROUP BY app",
            [start, end],
        )
        return {row["app"]: float(row["usd"]) for row in rows}

    def by_day(self, start: float, end: float) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT ts, cost_usd, tokens_in, tokens_out FROM requests WHERE ts >= ? AND ts < ? ORDER BY ts",
            [start, end],
        )
        days: dict[str, dict[str, Any]] = {}
        for row in rows:
            day = datetime.fromtimestamp(row["ts"]).astimezone().strftime("%Y-%m-%d")
            entry = days.setdefault(
                day, {"day": day, "usd": 0.0, "requests": 0, "tokens_in": 0, "tokens_out": 0}
            )
            entry["usd"] += float(row["cost_usd"] or 0)
            entry["requests"] += 1
            entry["tokens_in"] += int(row["tokens_in"] or 0)
            entry["tokens_out"] += int(row["tokens_out"] or 0)
        return list(days.values())

    def grouped(self, start: float, end: float, key: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT app, backend, model_used, cost_usd, tokens_in, tokens_out, cache FROM requests "
            "WHERE ts >= ? AND ts < ?",
            [start, end],
        )
        groups: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"usd": 0.0, "requests": 0, "tokens_in": 0, "tokens_out": 0}
        )
        for row in rows:
            group = groups[key(row)]
            group["usd"] += float(row["cost_usd"] or 0)
            group["requests"] += 1
            group["tokens_in"] += int(row["tokens_in"] or 0)
            group["tokens_out"] += int(row["tokens_out"] or 0)
        return [
            {"name": name, **values} for name, values in sorted(groups.items(), key=lambda kv: -kv[1]["usd"])
        ]

    def served_locally(self, start: float, end: float, local_backends: set[str]) -> dict[str, int]:
        """Tokens of successful requests answered on this machine or from the cache."""
        rows = self._query(
            "SELECT backend, cache, tokens_in, tokens_out FROM requests "
            "WHERE ts >= ? AND ts < ? AND (status IS NULL OR status < 400)",
            [start, end],
        )
        out = {"requests": 0, "tokens_in": 0, "tokens_out": 0, "cache_hits": 0}
        for row in rows:
            if row["cache"] == "hit" or row["backend"] in local_backends:
                out["requests"] += 1
                out["cache_hits"] += row["cache"] == "hit"
                out["tokens_in"] += int(row["tokens_in"] or 0)
                out["tokens_out"] += int(row["tokens_out"] or 0)
        return out
