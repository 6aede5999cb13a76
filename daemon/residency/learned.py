"""What loads really cost: bytes used per (model, context) and seconds to load, kept in SQLite.

An estimate is a guess; after each load the manager records what the backend (/api/ps
size and size_vram) or NVML (the drop in free memory) says was used, and how long the load
took, so the next decision about that model uses real figures. Until the manager has loaded a
model itself, the load time the performance analyst measured stands in as its reload cost.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlite_utils

TABLE = "residency_observations"
MIGRATIONS: list[str] = [
    f"""
    CREATE TABLE {TABLE} (
        model TEXT NOT NULL,
        context INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        size_vram INTEGER NOT NULL,
        load_seconds REAL,
        loads INTEGER NOT NULL DEFAULT 1,
        updated REAL NOT NULL,
        PRIMARY KEY (model, context)
    )
    """,
]
# Weight of the newest load time in the running average.
LOAD_TIME_WEIGHT = 0.5


class StoreLike(Protocol):
    @property
    def db(self) -> sqlite_utils.Database: ...

    def migrate(self, component: str, migrations: Any) -> int: ...

    async def write(self, fn: Any) -> Any: ...


@dataclass(slots=True)
class Observation:
    size_bytes: int
    size_vram: int
    load_seconds: float | None
    loads: int


class LearnedFacts:
    def __init__(self, store: StoreLike | None) -> None:
        self._store = store
        self._seen: dict[tuple[str, int], Observation] = {}
        self._measured: dict[str, float] = {}
        if store is not None:
            store.migrate("residency", MIGRATIONS)
            for row in store.db.query(f"SELECT * FROM {TABLE}"):
                self._seen[(row["model"], int(row["context"]))] = Observation(
                    int(row["size_bytes"]), int(row["size_vram"]), row["load_seconds"], int(row["loads"])
                )

    def size(self, model: str, context: int) -> Observation | None:
        return self._seen.get((model, context))

    def use_measured(self, load_seconds: Mapping[str, float]) -> None:
        """Load times the performance analyst measured, per model id."""
        self._measured = {m: float(s) for m, s in load_seconds.items() if s is not None and s > 0}

    def load_seconds(self, model: str) -> float | None:
        """The learned load time of `model` at any context (they differ little), else the measured one."""
        times = [
            o.load_seconds for (m, _), o in self._seen.items() if m == model and o.load_seconds is not None
        ]
        return max(times) if times else self._measured.get(model)

    def load_source(self, model: str) -> str | None:
        """Where `load_seconds` comes from: "observed" (our own loads), "measured" (the analyst)."""
        if any(m == model and o.load_seconds is not None for (m, _), o in self._seen.items()):
            return "observed"
        return "measured" if model in self._measured else None

    async def record(
        self, model: str, context: int, *, size_bytes: int, size_vram: int, load_seconds: float | None
    ) -> Observation:
        previous = self._seen.get((model, context))
        if previous is not None and previous.load_seconds is not None and load_seconds is not None:
            load_seconds = LOAD_TIME_WEIGHT * load_seconds + (1 - LOAD_TIME_WEIGHT) * previous.load_seconds
        elif load_seconds is None and previous is not None:
            load_seconds = previous.load_seconds
        observation = Observation(
            size_bytes, size_vram, load_seconds, (previous.loads if previous else 0) + 1
        )
        self._seen[(model, context)] = observation
        if self._store is not None:
            row = {
                "model": model,
                "context": context,
                "size_bytes": size_bytes,
                "size_vram": size_vram,
                "load_seconds": load_seconds,
                "loads": observation.loads,
                "updated": time.time(),
            }
            await self._store.write(lambda db: db[TABLE].upsert(row, pk=("model", "context")))
        return observation
