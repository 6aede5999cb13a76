"""App tokens: how Roundhouse tells apps apart, and what each may do. Only a SHA-256 of each
token is stored.

Two scopes: `app` (inference and the app's own ledger rows) and `admin` (the whole control API).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, Literal

from roundhouse.daemon.store import Store

TOKEN_PREFIX = "rh-"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Scope = Literal["app", "admin"]
SCOPES: tuple[Scope, ...] = ("app", "admin")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, store: Store) -> None:
        self._store = store
        # token -> (app, scope, checked_at): a revocation from another process is seen within a
        # second. Keyed by the token itself, which the process holds on every request anyway:
        # hashing it costs more than the rest of the check, so the hash is only taken to look it up.
        self._known: dict[str, tuple[str, Scope, float]] = {}

    def create(self, name: str, scope: Scope = "app") -> str:
        """A new token for app `name` (replacing any earlier one). Returned once, never stored."""
        if not _NAME.match(name):
            raise ValueError(
                "an app name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if scope not in SCOPES:
            raise ValueError(f"a token's scope is one of {', '.join(SCOPES)}, not {scope!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "name": name,
            "token_sha256": _digest(token),
            "hint": token[-4:],
            "created": time.time(),
            "scope": scope,
        }
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
            {"name": r["name"], "hint": "…" + r["hint"], "created": r["created"], "scope": r["scope"]}
            for r in self._store.db.query("SELECT name, hint, created, scope FROM app_tokens ORDER BY name")
        ]

    def identify(self, token: str) -> tuple[str, Scope] | None:
        """The app a token belongs to and its scope, or None."""
        now = time.monotonic()
        known = self._known.get(token)
        if known is not None and now - known[2] < 1.0:
            return known[0], known[1]
        digest = _digest(token)
        rows = list(
            self._store.db.query("SELECT name, scope FROM app_tokens WHERE token_sha256 = ?", [digest])
        )
        if not rows:
            self._known.pop(token, None)
            return None
        name = str(rows[0]["name"])
        scope: Scope = "admin" if rows[0]["scope"] == "admin" else "app"
        self._known[token] = (name, scope, now)
        return name, scope

    def app_for(self, token: str) -> str | None:
        """The app a token belongs to, or None."""
        found = self.identify(token)
        return found[0] if found else None


TRAY_APP = "tray"


def ensure_tray_token(tokens: Tokens, path: Path) -> str:
    """The admin token the tray reads from `path` (readable by this user only), made if the file
    is missing or holds a token that is no longer the tray's admin token."""
    try:
        token = path.read_text().strip()
    except OSError:
        token = ""
    if token and tokens.identify(token) == (TRAY_APP, "admin"):
        return token
    token = tokens.create(TRAY_APP, "admin")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    os.replace(partial, path)
    return token
