"""Cloud API keys live in the OS keyring and nowhere else.

Nothing else in Roundhouse reads or writes keys. Values never reach logs, the database,
config files or error messages; callers only ever see a provider list and last-four hints.
"""

from __future__ import annotations

import json
import logging

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SERVICE = "roundhouse"
_INDEX = "__providers__"
PROVIDERS = ("openai", "anthropic", "gemini", "groq", "mistral", "openrouter")


class NoSecureStore(RuntimeError):
    """No OS keyring is available; Roundhouse refuses to keep keys in a plain file."""


class Secrets:
    def __init__(self, backend: KeyringBackend | None = None, service: str = SERVICE) -> None:
        self._backend = backend
        self.service = service

    @property
    def backend(self) -> KeyringBackend:
        return self._backend or keyring.get_keyring()

    def available(self) -> tuple[bool, str]:
        """Whether a secure store exists, and its name (or why not)."""
        from keyring.backends import chainer, fail, null

        backend = self.backend
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        usable = not isinstance(backend, (fail.Keyring, null.Keyring)) and not (
            isinstance(backend, chainer.ChainerBackend) and not backend.backends
        )
        if not usable:
            return False, "no secure keyring found: install GNOME Keyring or KWallet, or use the OS key store"
        return True, name

    def _require(self) -> KeyringBackend:
        ok, detail = self.available()
        if not ok:
            raise NoSecureStore(detail)
        return self.backend

    def get(self, name: str) -> str | None:
        try:
            return self.backend.get_password(self.service, name)
        except keyring.errors.NoKeyringError:
            return None
        except keyring.errors.KeyringError as exc:
            log.warning("keyring: cannot read the key for %s (%s)", name, type(exc).__name__)
            return None

    def set(self, name: str, value: str) -> None:
        value = value.strip()
        if not value:
            raise ValueError("an empty key cannot be stored")
        if name == _INDEX:
            raise ValueError("reserved name")
        backend = self._require()
        try:
            backend.set_password(self.service, name, value)
            names = set(self.names()) | {name}
            backend.set_password(self.service, _INDEX, json.dumps(sorted(names)))
        except keyring.errors.KeyringError as exc:
            raise NoSecureStore(f"the keyring refused to store the key: {type(exc).__name__}") from None

    def delete(self, name: str) -> bool:
        backend = self._require()
        try:
            backend.delete_password(self.service, name)
            found = True
        except keyring.errors.PasswordDeleteError:
            found = False
        names = set(self.names()) - {name}
        backend.set_password(self.service, _INDEX, json.dumps(sorted(names)))
        return found

    def names(self) -> list[str]:
        raw = self.get(_INDEX)
        if not raw:
            return []
        try:
            return [str(n) for n in json.loads(raw)]
        except ValueError:
            return []

    def hint(self, name: str) -> str | None:
        """The last four characters, for showing which key is stored."""
        value = self.get(name)
        if not value:
            return None
        return "…" + value[-4:] if len(value) >= 8 else "…"
