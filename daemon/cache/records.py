"""The cache's SQLite table: entries survive a restart, vectors and trust included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from roundhouse.daemon.cache.guards import PromptFeatures
from roundhouse.daemon.models import ChatChunk, Usage

COMPONENT = "cache"
MIGRATIONS: list[str] = [
    """
    CREATE TABLE cache_entries (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        chunks TEXT NOT NULL,
        size INTEGER NOT NULL,
        created REAL NOT NULL,
        last_used REAL NOT NULL,
        expires REAL NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0,
        answer TEXT NOT NULL,
        scope TEXT,
        vector BLOB,
        features TEXT,
        trust REAL NOT NULL DEFAULT 0.5
    )
    """,
    "CREATE INDEX cache_entries_last_used ON cache_entries(last_used)",
]


@dataclass(slots=True)
class Entry:
    key: str
    model: str
    chunks: list[dict[str, Any]]
    size: int
    created: float
    last_used: float
    expires: float
    answer: str  # hash of the answer: two entries with equal answers never conflict
    hits: int = 0
    scope: str | None = None
    features: PromptFeatures | None = None
    trust: float = 0.5

    def replay(self) -> list[ChatChunk]:
        return [chunk_from_dict(c) for c in self.chunks]


def chunk_to_dict(chunk: ChatChunk) -> dict[str, Any]:
    data: dict[str, Any] = {"c": chunk.content}
    if chunk.tool_calls:
        data["t"] = chunk.tool_calls
    if chunk.finish_reason:
        data["f"] = chunk.finish_reason
    if chunk.usage:
        data["u"] = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens]
    if chunk.stop_sequence:
        data["s"] = chunk.stop_sequence
    return data


def chunk_from_dict(data: dict[str, Any]) -> ChatChunk:
    usage = data.get("u")
    return ChatChunk(
        content=data.get("c", ""),
        tool_calls=json.loads(json.dumps(data["t"])) if data.get("t") else None,
        finish_reason=data.get("f"),
        usage=Usage(prompt_tokens=usage[0], completion_tokens=usage[1]) if usage else None,
        stop_sequence=data.get("s"),
    )


def row_of(entry: Entry, vector: np.ndarray | None) -> dict[str, Any]:
    return {
        "key": entry.key,
        "model": entry.model,
        "chunks": json.dumps(entry.chunks, ensure_ascii=False),
        "size": entry.size,
        "created": entry.created,
        "last_used": entry.last_used,
        "expires": entry.expires,
        "hits": entry.hits,
        "answer": entry.answer,
        "scope": entry.scope,
        "vector": None if vector is None else np.asarray(vector, dtype=np.float32).tobytes(),
        "features": None if entry.features is None else json.dumps(entry.features.to_json()),
        "trust": entry.trust,
    }


def load(db: sqlite_utils.Database, now: float) -> Iterator[tuple[Entry, np.ndarray | None]]:
    """Unexpired entries, least recently used first."""
    for row in db.query("SELECT * FROM cache_entries WHERE expires > ? ORDER BY last_used", [now]):
        vector = np.frombuffer(row["vector"], dtype=np.float32).copy() if row["vector"] else None
        features = PromptFeatures.from_json(json.loads(row["features"])) if row["features"] else None
        entry = Entry(
            key=row["key"],
            model=row["model"],
            chunks=json.loads(row["chunks"]),
            size=row["size"],
            created=row["created"],
            last_used=row["last_used"],
            expires=row["expires"],
            answer=row["answer"],
            hits=row["hits"],
            scope=row["scope"],
            features=features,
            trust=row["trust"],
        )
        yield entry, vector


Write = Callable[[sqlite_utils.Database], Any]


def upsert(entry: Entry, vector: np.ndarray | None) -> Write:
    row = row_of(entry, vector)
    return lambda db: db["cache_entries"].upsert(row, pk="key")


def delete(keys: list[str]) -> Write:
    def run(db: sqlite_utils.Database) -> None:
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            db.execute(f"DELETE FROM cache_entries WHERE key IN ({','.join('?' * len(part))})", part)

    return run


def touch(key: str, last_used: float, hits: int) -> Write:
    return lambda db: db.execute(
        "UPDATE cache_entries SET last_used = ?, hits = ? WHERE key = ?", [last_used, hits, key]
    )


def set_trust(updates: dict[str, float]) -> Write:
    items = list(updates.items())
    return lambda db: db.conn.executemany(
        "UPDATE cache_entries SET trust = ? WHERE key = ?", [(trust, key) for key, trust in items]
    )


def clear() -> Write:
    return lambda db: db.execute("DELETE FROM cache_entries")
