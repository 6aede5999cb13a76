"""CORS for the browser origins named in `[server] allowed_origins`.

Only origins named there get CORS headers: a page on any other local port passes the guard
(a browser sends it no secrets) but its scripts may not read the answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

ALLOWED_METHODS = b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
# The request headers the SDKs and apps that call Roundhouse from a page send.
ALLOWED_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "authorization",
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "anthropic-dangerous-direct-browser-access",
        "openai-beta",
        "openai-organization",
        "openai-project",
        "x-request-id",
    }
)
ALLOWED_HEADER_PREFIXES = ("x-stainless-",)
EXPOSED_HEADERS = (
    b"x-roundhouse-request-id, x-roundhouse-cache, x-roundhouse-route-backend, x-roundhouse-route-model, "
    b"x-roundhouse-route-tier, x-roundhouse-route-reasons, x-roundhouse-max-tokens-clamped"
)
MAX_AGE = b"600"
_VARY = (b"vary", b"Origin")


def _allowed_header(name: str) -> bool:
    return name in ALLOWED_HEADERS or name.startswith(ALLOWED_HEADER_PREFIXES)


class Cors:
    def __init__(self, allowed_origins: Iterable[str]) -> None:
        self.origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    def allows(self, origin: str) -> bool:
        return bool(self.origins) and origin.rstrip("/").lower() in self.origins

    async def answer_preflight(self, send: Send, origin: str, requested_headers: bytes) -> None:
        """204 with what the browser asked for, as far as it is allowed."""
        wanted = (h.strip().lower() for h in requested_headers.decode("latin-1").split(","))
        echoed = ", ".join(h for h in wanted if h and _allowed_header(h))
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-max-age", MAX_AGE),
            _VARY,
        ]
        if echoed:
            headers.append((b"access-control-allow-headers", echoed.encode("latin-1")))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def wrap_send(self, send: Send, origin: str) -> Send:
        """A `send` that names the origin on the answer's start, so the page may read it."""
        added = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
            _VARY,
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        return send_with_cors
