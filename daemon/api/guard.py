"""Who is calling, and may they: app tokens, the DNS-rebinding guard, and the body limit.

A plain ASGI middleware (no per-request objects beyond what it must) because it sits in
front of every request on the hot path.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from roundhouse.daemon.api.errors import error_bytes
from roundhouse.daemon.tokens import Tokens

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})
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
        self._hosts: dict[str, bool] = {}

    def _local_host(self, host: str) -> bool:
        known = self._hosts.get(host)  # a client sends the same Host on every request
        if known is None:
            name = host_name(host)
            known = name in _LOCAL_NAMES or _is_loopback_ip(name) or name in self.allowed_hosts
            if len(self._hosts) < _HOSTS_REMEMBERED:
                self._hosts[host] = known
        return known

    def _local_origin(self, origin: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        if "://" not in origin:
            return False
        return self._local_host(origin.split("://", 1)[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers: dict[bytes, bytes] = dict(scope["headers"])
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

        app_name = "unknown"
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if token and token.startswith("rh-"):
            found = self.tokens.app_for(token)
            if found is None:
                await _reject(send, path, 401, "invalid or revoked Roundhouse app token")
                return
            app_name = found
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
        scope.setdefault("state", {})["app_name"] = app_name

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
