"""Hosts added at run time (tray Settings, `roundhoused hosts add`, the control API), kept in
the database beside those in config.toml; their API keys go to the OS keyring, never here."""

from __future__ import annotations

import time
from typing import Any

from roundhouse.daemon.fleet.hosts import HostSettings, key_name
from roundhouse.daemon.secrets import Secrets
from roundhouse.daemon.store import Store

TABLE = "fleet_hosts"
COMPONENT = "fleet"
MIGRATIONS = [
    f"CREATE TABLE {TABLE} (name TEXT PRIMARY KEY, settings TEXT NOT NULL, added REAL NOT NULL)",
]


class HostExists(ValueError):
    pass


class HostRegistry:
    def __init__(self, store: Store, secrets: Secrets | None = None) -> None:
        self._store = store
        self._secrets = secrets or Secrets()
        store.migrate(COMPONENT, MIGRATIONS)

    def list(self) -> list[HostSettings]:
        db = self._store.db
        return [
            HostSettings.model_validate_json(row["settings"])
            for row in db.query(f"SELECT settings FROM {TABLE} ORDER BY added")
        ]

    def version(self) -> tuple[int, float]:
        """Changes when a host is added or removed (also by another process, like the CLI)."""
        db = self._store.db
        row = next(db.query(f"SELECT count(*) AS n, max(added) AS at FROM {TABLE}"))
        return (int(row["n"]), float(row["at"] or 0.0))

    def add(
        self, host: HostSettings, api_key: str | None = None, *, taken: set[str] | None = None
    ) -> HostSettings:
        """Keep `host`; raises HostExists when its name is in use (`taken`: names in config)."""
        if host.name in (taken or set()) or any(h.name == host.name for h in self.list()):
            raise HostExists(f"a host named '{host.name}' exists already")
        if api_key:
            self._secrets.set(key_name(host.name), api_key)  # first: a refused key adds nothing
            host = host.model_copy(update={"has_key": True})
        row: dict[str, Any] = {"name": host.name, "settings": host.model_dump_json(), "added": time.time()}
        self._store.write_sync(lambda db: db[TABLE].insert(row, pk="name"))
        return host

    def remove(self, name: str) -> bool:
        def delete(db: Any) -> int:
            return int(db.execute(f"DELETE FROM {TABLE} WHERE name = ?", [name]).rowcount)

        removed = bool(self._store.write_sync(delete))
        if removed and self._secrets.available()[0]:
            self._secrets.delete(key_name(name))
        return removed

    def api_key(self, host: HostSettings) -> str | None:
        return self._secrets.get(key_name(host.name)) if host.has_key else None
