"""A conversation once found private stays local, recognised by Open WebUI's chat id or by
a hash of the conversation's first messages (which every later turn repeats)."""

from __future__ import annotations

import hashlib
import time

from roundhouse.daemon.models import ChatRequest, content_text

MIN_HEAD_CHARS = 32


def conversation_keys(request: ChatRequest) -> list[str]:
    keys: list[str] = []
    if request.chat_id:
        keys.append("chat:" + hashlib.sha256(request.chat_id.encode()).hexdigest())
    if request.kind == "chat" and request.messages:
        head: list[str] = []
        for message in request.messages:
            head.append(f"{message.get('role')}\x1f{content_text(message.get('content'))}")
            if message.get("role") == "user":
                break
        joined = "\x1e".join(head)
        # A bare "hi" opens countless unrelated conversations; only a distinctive opening
        # identifies one.
        if len(joined) >= MIN_HEAD_CHARS:
            keys.append("head:" + hashlib.sha256(joined.encode()).hexdigest())
    return keys


class StickyPrivacy:
    """Only hashes are kept (in memory and in the database), never the text."""

    def __init__(self, keys: dict[str, float] | None = None, *, limit: int = 100_000) -> None:
        self._keys: dict[str, float] = dict(keys or {})
        self._limit = limit

    def is_sticky(self, request: ChatRequest) -> bool:
        if not self._keys:  # nothing private seen yet: no need to hash the conversation
            return False
        return any(key in self._keys for key in conversation_keys(request))

    def remember(self, request: ChatRequest) -> list[str]:
        """Mark the request's conversation private; returns the keys that are new."""
        fresh = [key for key in conversation_keys(request) if key not in self._keys]
        now = time.time()
        for key in fresh:
            self._keys[key] = now
        if len(self._keys) > self._limit:
            for key in sorted(self._keys, key=self._keys.__getitem__)[: len(self._keys) - self._limit]:
                del self._keys[key]
        return fresh

    def __len__(self) -> int:
        return len(self._keys)
