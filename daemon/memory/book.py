"""Reading and writing the memory tables. Writes go through the store's one writer."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils

from roundhouse.daemon.memory.records import LIVE, Insight, Memory, insight_from_row, memory_from_row
from roundhouse.daemon.memory.schema import COMPONENT, MIGRATIONS
from roundhouse.daemon.store import Store


class MemoryBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    # reads ---------------------------------------------------------------------------------
    def memory(self, memory_id: str) -> Memory | None:
        rows = list(self.store.db.query("SELECT * FROM memory_items WHERE id = ?", [memory_id]))
        return memory_from_row(rows[0]) if rows else None

    def memories(self, statuses: tuple[str, ...] | None = None, limit: int | None = None) -> list[Memory]:
        sql = "SELECT * FROM memory_items"
        params: list[Any] = []
        if statuses:
            sql += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        sql += " ORDER BY created DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [memory_from_row(r) for r in self.store.db.query(sql, params)]

    def live(self) -> list[Memory]:
        return self.memories(LIVE)

    def insight(self, insight_id: str) -> dict[str, Any] | None:
        rows = list(self.store.db.query("SELECT * FROM memory_insights WHERE id = ?", [insight_id]))
        return insight_from_row(rows[0]) if rows else None

    def insights(self, limit: int = 100, agent: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE agent = ?", [agent]) if agent else ("", [])
        rows = self.store.db.query(
            f"SELECT * FROM memory_insights {where} ORDER BY ts DESC LIMIT ?", [*params, limit]
        )
        return [insight_from_row(r) for r in rows]

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        rows = self.store.db.query(
            "SELECT * FROM memory_history WHERE memory_id = ? ORDER BY id", [memory_id]
        )
        return [{**r, "detail": json.loads(r["detail"]) if r.get("detail") else None} for r in rows]

    def decisions(self, insight_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE insight_id = ?", [insight_id]) if insight_id else ("", [])
        rows = self.store.db.query(
            f"SELECT * FROM memory_decisions {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
        return [{**r, "scores": json.loads(r["scores"]), "reasons": json.loads(r["reasons"])} for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.store.db.query("SELECT status, COUNT(*) AS n FROM memory_items GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    # writes --------------------------------------------------------------------------------
    async def write(self, fn: Any) -> Any:
        return await self.store.write(fn)


def put_memory(db: sqlite_utils.Database, memory: Memory) -> None:
    db["memory_items"].insert(memory.row(), pk="id", replace=True)


def add_history(
    db: sqlite_utils.Database, memory_id: str, action: str, text: str | None, **detail: Any
) -> None:
    db["memory_history"].insert(
        {
            "memory_id": memory_id,
            "ts": time.time(),
            "action": action,
            "text": text,
            "detail": json.dumps(detail, default=str) if detail else None,
        }
    )


def put_insight(db: sqlite_utils.Database, insight: Insight, decision: str, memory_id: str | None) -> None:
    row = insight.row()
    row["decision"] = decision
    row["memory_id"] = memory_id
    db["memory_insights"].insert(row, pk="id", replace=True)


def add_decision(
    db: sqlite_utils.Database,
    insight_id: str,
    action: str,
    memory_id: str | None,
    scores: dict[str, Any],
    reasons: list[str],
) -> None:
    db["memory_decisions"].insert(
        {
            "ts": time.time(),
            "insight_id": insight_id,
            "action": action,
            "memory_id": memory_id,
            "scores": json.dumps(scores),
            "reasons": json.dumps(reasons),
        }
    )
