"""Responses kept for the Responses API (`store: true`, its default): each response with its
input items, so that `previous_response_id` continues a conversation and a client can read or
delete what it made. A response is visible to the app that made it only.

The text kept is the caller's own conversation, which is what it asked to keep. Writes go
through the store's one writer; reads are by primary key.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils
from pydantic_core import to_json

from roundhouse.daemon.store import Store

COMPONENT = "responses"
MIGRATIONS = [
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        app TEXT NOT NULL,
        created REAL NOT NULL,
        previous_id TEXT,
        input_json TEXT NOT NULL,
        response_json TEXT NOT NULL
    )
    """,
]
# A guard against a chain no conversation reaches; each link is one stored response.
MAX_CHAIN = 10_000


class StoredResponses:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    async def save(self, response: dict[str, Any], items: list[dict[str, Any]], app: str) -> None:
        row = [
            response["id"],
            app,
            time.time(),
            response.get("previous_response_id"),
            to_json(items).decode(),
            to_json(response).decode(),
        ]

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT OR REPLACE INTO responses "
                "(id, app, created, previous_id, input_json, response_json) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )

        await self.store.write(write)

    def _row(self, response_id: str, app: str) -> dict[str, Any] | None:
        rows = list(
            self.store.db.query("SELECT * FROM responses WHERE id = ? AND app = ?", [response_id, app])
        )
        return rows[0] if rows else None

    def response(self, response_id: str, app: str) -> dict[str, Any] | None:
        row = self._row(response_id, app)
        return json.loads(row["response_json"]) if row else None

    def input_items(self, response_id: str, app: str) -> list[dict[str, Any]] | None:
        row = self._row(response_id, app)
        return json.loads(row["input_json"]) if row else None

    def history(self, response_id: str, app: str) -> list[dict[str, Any]] | None:
        """The items of the conversation up to and including `response_id`'s output, oldest
        first; None when it is not stored. A deleted response ends the chain there: what was
        deleted is not sent again."""
        turns: list[list[dict[str, Any]]] = []
        link: str | None = response_id
        while link is not None and len(turns) < MAX_CHAIN:
            row = self._row(link, app)
            if row is None:
                if not turns:
                    return None
                break
            response = json.loads(row["response_json"])
            turns.append(json.loads(row["input_json"]) + response.get("output", []))
            link = row["previous_id"]
        return [item for turn in reversed(turns) for item in turn]

    async def delete(self, response_id: str, app: str) -> bool:
        def remove(db: sqlite_utils.Database) -> bool:
            cursor = db.execute("DELETE FROM responses WHERE id = ? AND app = ?", [response_id, app])
            return cursor.rowcount > 0

        return await self.store.write(remove)
