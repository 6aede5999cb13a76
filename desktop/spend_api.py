"""Where the daemon's spend reports and budgets live in the control API."""

from __future__ import annotations

from typing import Any

from roundhouse.desktop.client import Capabilities

SUMMARY = "/control/v1/spend"
BY_PROVIDER = "/control/v1/spend/by-provider"
BUDGETS = "/control/v1/spend/budgets"


def by_day_path(caps: Capabilities) -> str | None:
    """The daily spend report, whatever the daemon calls it (…/spend/daily, …/spend/by-day)."""
    for path in sorted(caps.paths):
        if path.startswith("/control/v1/spend/") and "day" in path and "{" not in path and caps.has(path):
            return path
    return None


def budget_write_method(caps: Capabilities) -> str | None:
    return next((m for m in ("patch", "put", "post") if caps.has(BUDGETS, m)), None)


def chart_data(data: Any) -> tuple[list[str], dict[str, list[float]]]:
    """Days and, per provider, the spend of each day, from rows like {day, provider, cost_usd}."""
    rows = (
        (data.get("days") or data.get("rows") or data.get("by_day") or []) if isinstance(data, dict) else data
    )
    if not isinstance(rows, list):
        return [], {}
    days: list[str] = []
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        day = str(row.get("day") or row.get("date") or "")
        if not day:
            continue
        if day not in days:
            days.append(day)
        providers = row.get("providers") if isinstance(row.get("providers"), dict) else None
        pairs = (
            providers.items()
            if providers
            else [(row.get("provider") or "all", row.get("cost_usd") or row.get("usd") or 0)]
        )
        for provider, usd in pairs:
            totals.setdefault(str(provider), {})
            totals[str(provider)][day] = totals[str(provider)].get(day, 0.0) + float(usd or 0)
    days.sort()
    return days, {p: [by_day.get(d, 0.0) for d in days] for p, by_day in totals.items()}


def provider_rows(data: Any) -> list[tuple[str, float, int]]:
    """(provider, usd, requests) this month, most expensive first."""
    rows = data.get("providers", []) if isinstance(data, dict) else []
    out = [
        (
            str(r.get("name") or r.get("key") or r.get("provider") or "?"),
            float(r.get("usd") or 0),
            int(r.get("requests") or 0),
        )
        for r in rows
        if isinstance(r, dict)
    ]
    return sorted(out, key=lambda r: -r[1])
