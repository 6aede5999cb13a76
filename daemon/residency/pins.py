"""Models the user pinned from the tray or the control API, kept across restarts."""

from __future__ import annotations

import time

from roundhouse.daemon.residency.learned import StoreLike

TABLE = "residency_pins"
MIGRATIONS: list[str] = [f"CREATE TABLE {TABLE} (model TEXT PRIMARY KEY, pinned_at REAL NOT NULL)"]


class PinStore:
    def __init__(self, store: StoreLike | None) -> None:
        self._store = store
        self._pinned: set[str] = set()
        if store is not None:
            store.migrate("residency_pins", MIGRATIONS)
            self._pinned = {row["model"] for row in store.db.query(f"SELECT model FROM {TABLE}")}

    def pinned(self) -> set[str]:
        return set(self._pinned)

    async def set(self, model: str, pinned: bool) -> None:
        if pinned:
            self._pinned.add(model)
        else:
            self._pinned.discard(model)
        if self._store is None:
            return
        if pinned:
            row = {"model": model, "pinned_at": time.time()}
            await self._store.write(lambda db: db[TABLE].upsert(row, pk="model"))
        else:
            await self._store.write(lambda db: db.execute(f"DELETE FROM {TABLE} WHERE model = ?", [model]))
