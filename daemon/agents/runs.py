"""The agents' tables: every run (start, end, cost, insights, errors) and each agent's state."""

from __future__ import annotations

import json
from typing import Any

COMPONENT = "agents"
MIGRATIONS: list[str] = [
    """
    CREATE TABLE agent_runs (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        status TEXT NOT NULL,
        cost_usd REAL NOT NULL DEFAULT 0,
        insights INTEGER NOT NULL DEFAULT 0,
        decisions TEXT,
        request_ids TEXT,
        summary TEXT,
        data TEXT,
        error TEXT
    )
    """,
    "CREATE INDEX agent_runs_agent_started ON agent_runs(agent, started)",
    """
    CREATE TABLE agent_state (
        name TEXT PRIMARY KEY,
        enabled INTEGER,
        paused INTEGER NOT NULL DEFAULT 0,
        every_s REAL,
        last_run REAL
    )
    """,
]


def run_from_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("decisions", "request_ids", "data"):
        out[key] = json.loads(out[key]) if out.get(key) else None
    return out
