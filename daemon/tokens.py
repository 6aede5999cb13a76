"""App tokens: how Roundhouse tells apps apart. Only a SHA-256 of each token is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from roundhouse.daemon.store import Store

TOKEN_PREFIX = "rh-"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, store: Store) -> None:
        self._store = store
        # token -> (app, checked_at): a revocation from another process is seen within a second.
        # Keyed by the token itself, which the process holds on every request anyway: hashing
        # it costs more than the rest of the check, so the hash is only taken to look it up.
        self._known: dict[str, tuple[str, float]] = {}

    def create(self, name: str) -> str:
        """A new token for app `name` (replacing any earlier one). Returned once, never stored."""
        if not _NAME.match(name):
            raise ValueError(
                "an app name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {"name": name, "token_sha256": _digest(token), "hint": token[-4:], "created": time.time()}
        self._store.write_sync(lambda db: db["app_tokens"].insert(row, pk="name", replace=True))
        self._forget(name)
        return token

    def revoke(self, name: str) -> bool:
        def delete(db: Any) -> int:
            return db.execute("DELETE FROM app_tokens WHERE name = ?", [name]).rowcount

        removed = self._store.write_sync(delete)
        self._forget(name)
        return bool(removed)

    def _forget(self, name: str) -> None:
        self._known = {k: v for k, v in self._known.items() if v[0] != name}

    def list(self) -> list[dict[str, Any]]:
        return [
            {"name": r["name"], "hint": "…" + r["hint"], "created": r["created"]}
            for r in self._store.db.query("SELECT name, hint, created FROM app_tokens ORDER BY name")
        ]

    def app_for(self, token: str) -> str | None:
        """The app a token belongs to, or None."""
        now = time.monotonic()
        known = self._known.get(token)
        if known is not None and now - known[1] < 1.0:
            return known[0]
        digest = _digest(token)
        rows = list(self._store.db.query("SELECT name FROM app_tokens WHERE token_sha256 = ?", [digest]))
        if not rows:
            self._known.pop(token, None)
            return None
        self._known[token] = (rows[0]["name"], now)
        return str(rows[0]["name"])
