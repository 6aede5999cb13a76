"""Budget windows in the user's local time: the day and the calendar month."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # "daily" or "monthly"
    key: str  # "2026-11-21" or "2026-11"
    start: float
    end: float


def day_window(now: float) -> Window:
    local = datetime.fromtimestamp(now).astimezone()
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    return Window("daily", start.strftime("%Y-%m-%d"), start.timestamp(), end.timestamp())


def month_window(now: float) -> Window:
    local = datetime.fromtimestamp(now).astimezone()
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(start.year, start.month)[1]
    end = start + timedelta(days=days)
    return Window("monthly", start.strftime("%Y-%m"), start.timestamp(), end.timestamp())


def windows(now: float) -> tuple[Window, Window]:
    return day_window(now), month_window(now)
