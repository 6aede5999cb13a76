"""Limits a connection meets before any token is read: how long it may take to send its head
and its body, how large its head may be, and how many connections one peer and everyone together
may hold open.

uvicorn has no header timeout (a client that sends half a head keeps its socket forever) and
httptools buffers a header of any size, so both are checked here, in the protocol, where they
cost nothing per request beyond a timer. A connection over a cap is answered 503 and closed at
once, so it holds its file descriptor for no longer than the accept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from roundhouse.daemon.api.errors import error_bytes
from roundhouse.daemon.api.http_protocol import HeadWithBodyProtocol

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int
    max_connections: int
    max_connections_per_peer: int


def _refusal(path: str, status: int, message: str) -> bytes:
    body = error_bytes(path or "/", status, message)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, _REASONS[status], len(body))
    )
    return head + body


class LimitedProtocol(HeadWithBodyProtocol):
    limits: ClassVar[ConnectionLimits]
    # Open connections per peer address, shared by every connection of one server.
    peers: ClassVar[dict[str, int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._peer: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._head_done = False
        self._head_bytes = 0
        self._refused = False

    # -- the connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        peer = self.client[0] if self.client else ""
        held = self.peers.get(peer, 0)
        self.peers[peer] = held + 1
        self._peer = peer
        if held >= limits.max_connections_per_peer:
            self._refuse(503, f"too many connections from {peer} (limit {limits.max_connections_per_peer})")
        elif len(self.connections) > limits.max_connections:
            self._refuse(503, f"too many connections (limit {limits.max_connections})")
        else:
            self._arm(limits.header_timeout_s, "request head", 408)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._peer is not None:
            left = self.peers.get(self._peer, 1) - 1
            if left > 0:
                self.peers[self._peer] = left
            else:
                self.peers.pop(self._peer, None)
            self._peer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if not self._head_done and not self._refused:
            # httptools holds a header until it ends: count what it holds, a read at a time.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._too_large()

    # -- parser callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_done = False
        self._head_bytes = 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout_s, "request head", 408)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._disarm()
        if self._head_bytes > self.limits.max_header_bytes:
            self._too_large()
            return
        self._arm(self.limits.body_timeout_s, "request body", 408)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    # -- refusing ---------------------------------------------------------------------------------

    def _arm(self, seconds: float, what: str, status: int) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, seconds, what, status)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, seconds: float, what: str, status: int) -> None:
        self._deadline = None
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
            return
        self._refuse(status, f"the {what} did not arrive within {seconds:g} s")

    def _too_large(self) -> None:
        self._refuse(431, f"request head too large (limit {self.limits.max_header_bytes} bytes)")

    def _path(self) -> str:
        url = getattr(self, "url", None) or b""
        return url.split(b"?", 1)[0].decode("latin-1")

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._disarm()
        if self.transport.is_closing():
            return
        self.transport.write(_refusal(self._path(), status, message))
        self.transport.close()


def limited_protocol(limits: ConnectionLimits) -> type[LimitedProtocol]:
    """A protocol class for one server: its own limits and its own count of connections per peer."""
    return type("LimitedProtocol", (LimitedProtocol,), {"limits": limits, "peers": {}})
