"""Who is calling, and may they: tokens and their scopes, the DNS-rebinding guard, and the body limit.

A plain ASGI middleware (no per-request objects beyond what it must) because it sits in
front of every request on the hot path.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from roundhouse.daemon.api.cors import Cors
from roundhouse.daemon.api.errors import error_bytes
from roundhouse.daemon.tokens import Tokens

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The dashboard's page and assets hold no data (the page reads it from the control API with
# the caller's token), so a browser may load them without sending a token.
OPEN_PATHS = frozenset({"/health", "/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css"})
CONTROL_PREFIX = "/control/"
# Paths with the control API's rules: an admin token (or loopback), from the daemon's own pages.
ADMIN_PREFIXES = (CONTROL_PREFIX, "/metrics", "/dashboard")
# The control calls an app token may make (each answers with that app's own rows only).
APP_CONTROL_PATHS = frozenset({"/control/v1/requests"})
_NOT_IN_A_HOST = frozenset("@/\\?# \t")
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_HOSTS_REMEMBERED = 256


@functools.lru_cache(maxsize=256)
def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """`host[:port]` -> host (keeps IPv6 brackets off)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: Tokens,
        loopback_only: bool,
        max_body_bytes: int,
        allowed_hosts: list[str],
        allowed_origins: list[str],
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.loopback_only = loopback_only
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.cors = Cors(allowed_origins)
        self._hosts: dict[str, bool] = {}

    def _local_host(self, host: str) -> bool:
        known = self._hosts.get(host)  # a client sends the same Host on every request
        if known is None:
            name = host_name(host)
            known = not _NOT_IN_A_HOST.intersection(host) and (
                name in _LOCAL_NAMES or _is_loopback_ip(name) or name in self.allowed_hosts
            )
            if len(self._hosts) < _HOSTS_REMEMBERED:
                self._hosts[host] = known
        return known

    def _local_origin(self, origin: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        scheme, sep, rest = origin.partition("://")
        if not sep or scheme not in ("http", "https"):
            return False
        return self._local_host(rest)  # refuses userinfo: `http://127.0.0.1:1@evil.example`

    def _control_origin(self, origin: str, host: str) -> bool:
        """A browser page may call the control API only from the daemon's own pages (/docs) or
        an origin named in `allowed_origins`: any other local port may be anyone's web app."""
        origin = origin.rstrip("/").lower()
        return origin in self.allowed_origins or origin.partition("://")[2] == host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw_headers = scope["headers"]
        headers: dict[bytes, bytes] = dict(raw_headers)
        if len(headers) != len(raw_headers):  # some header came twice: never Host or Origin
            names = [name for name, _ in raw_headers]
            for twice in (b"host", b"origin"):
                if names.count(twice) > 1:
                    await _reject(send, path, 400, f"more than one {twice.decode().title()} header")
                    return
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        auth = headers.get(b"authorization", b"").decode("latin-1")

        if self.loopback_only and host and not self._local_host(host):
            await _reject(
                send, path, 403, f"Host '{host}' is not allowed: Roundhouse answers only local names"
            )
            return
        if origin and not self._local_origin(origin):
            await _reject(send, path, 403, f"Origin '{origin}' is not allowed")
            return
        if origin and self.cors.allows(origin):
            if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
                requested = headers.get(b"access-control-request-headers", b"")
                await self.cors.answer_preflight(send, origin, requested)
                return
            send = self.cors.wrap_send(send, origin)

        app_name = "unknown"
        token_scope = "admin"  # a tokenless caller on this machine, when bound to loopback only
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        token = token or headers.get(b"x-api-key", b"").decode("latin-1").strip()  # Anthropic's clients
        if token and token.startswith("rh-"):
            found = self.tokens.identify(token)
            if found is None:
                await _reject(send, path, 401, "invalid or revoked Roundhouse app token")
                return
            app_name, token_scope = found
        elif path not in OPEN_PATHS:
            client = scope.get("client")
            client_is_local = client is None or _is_loopback_ip(client[0])
            if not (self.loopback_only and client_is_local):
                await _reject(
                    send,
                    path,
                    401,
                    "an app token is required: create one with `roundhoused token create NAME`",
                )
                return
        if path.startswith(ADMIN_PREFIXES):
            if token_scope != "admin" and path not in APP_CONTROL_PATHS:
                await _reject(
                    send,
                    path,
                    403,
                    f"{path} needs an admin token; app '{app_name}' has an app token "
                    "(create one with `roundhoused token create NAME --scope admin`)",
                )
                return
            if origin and not self._control_origin(origin, host):
                await _reject(send, path, 403, f"Origin '{origin}' may not call the control API")
                return
        state = scope.setdefault("state", {})
        state["app_name"] = app_name
        state["token_scope"] = token_scope

        length = headers.get(b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.max_body_bytes:
                await _reject(send, path, 413, f"request body too large (limit {self.max_body_bytes} bytes)")
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        # A chunked body carries no length: read it here, within the limit, then replay it.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _reject(send, path, 413, f"request body too large (limit {self.max_body_bytes} bytes)")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(bytes(body), receive), send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _reject(send: Send, path: str, status: int, message: str) -> None:
    body = error_bytes(path, status, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
