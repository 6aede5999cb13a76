"""What routing keeps in the one database: learned examples, cached example vectors, private
conversation hashes, runtime policy edits and feedback. Prompt text is stored redacted."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np
import sqlite_utils

from roundhouse.daemon.store import Store

COMPONENT = "routing"
MIGRATIONS: list[str] = [
    """
    CREATE TABLE routing_examples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        text TEXT NOT NULL,
        tier TEXT NOT NULL,
        topic TEXT,
        request_id TEXT,
        vector BLOB NOT NULL
    )
    """,
    "CREATE TABLE routing_vectors (sha256 TEXT PRIMARY KEY, model TEXT NOT NULL, vector BLOB NOT NULL)",
    "CREATE TABLE routing_private (key TEXT PRIMARY KEY, ts REAL NOT NULL)",
    "CREATE TABLE routing_policy (id INTEGER PRIMARY KEY CHECK (id = 1), patch TEXT NOT NULL, "
    "updated REAL NOT NULL)",
    """
    CREATE TABLE routing_feedback (
        request_id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        app TEXT,
        verdict TEXT NOT NULL,
        decided_tier TEXT,
        label_tier TEXT
    )
    """,
]


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class RoutingStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    @property
    def db(self) -> sqlite_utils.Database:
        return self.store.db

    # example vectors -----------------------------------------------------------------------
    def cached_vectors(self, model: str, texts: list[str]) -> dict[str, np.ndarray]:
        wanted = {text_key(model, t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(wanted)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT sha256, vector FROM routing_vectors WHERE sha256 IN ({marks})", chunk
            ):
                found[wanted[row["sha256"]]] = from_blob(row["vector"])
        return found

    def save_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        rows = [
            {"sha256": text_key(model, t), "model": model, "vector": to_blob(v)} for t, v in vectors.items()
        ]
        if rows:
            self.store.submit(lambda db: db["routing_vectors"].insert_all(rows, pk="sha256", replace=True))

    # learned examples ----------------------------------------------------------------------
    def learned(self) -> list[tuple[str, str, np.ndarray]]:
        return [
            (row["text"], row["tier"], from_blob(row["vector"]))
            for row in self.db.query("SELECT text, tier, vector FROM routing_examples ORDER BY id")
        ]

    async def add_example(self, text: str, tier: str, vector: np.ndarray, request_id: str | None) -> None:
        row = {
            "ts": time.time(),
            "text": text,
            "tier": tier,
            "topic": "feedback",
            "request_id": request_id,
            "vector": to_blob(vector),
        }
        await self.store.write(lambda db: db["routing_examples"].insert(row))

    async def add_feedback(self, row: dict[str, Any]) -> None:
        await self.store.write(lambda db: db["routing_feedback"].insert(row, pk="request_id", replace=True))

    def learned_count(self) -> int:
        return int(next(iter(self.db.query("SELECT count(*) AS n FROM routing_examples")))["n"])

    # private conversations -----------------------------------------------------------------
    def private_keys(self) -> dict[str, float]:
        return {row["key"]: row["ts"] for row in self.db.query("SELECT key, ts FROM routing_private")}

    def save_private_keys(self, keys: list[str]) -> None:
        now = time.time()
        rows = [{"key": key, "ts": now} for key in keys]
        if rows:
            self.store.submit(lambda db: db["routing_private"].insert_all(rows, pk="key", replace=True))

    # runtime policy ------------------------------------------------------------------------
    def policy_patch(self) -> dict[str, Any]:
        rows = list(self.db.query("SELECT patch FROM routing_policy WHERE id = 1"))
        return json.loads(rows[0]["patch"]) if rows else {}

    async def save_policy_patch(self, patch: dict[str, Any]) -> None:
        row = {"id": 1, "patch": json.dumps(patch), "updated": time.time()}
        await self.store.write(lambda db: db["routing_policy"].insert(row, pk="id", replace=True))

    async def clear_policy_patch(self) -> None:
        await self.store.write(lambda db: db.execute("DELETE FROM routing_policy"))
