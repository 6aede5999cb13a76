"""A small keep-alive HTTP/1.1 client for OpenAI-compatible upstreams.

This sits on the proxy's hot path: every request routed to LM Studio, a llama.cpp server or
vLLM goes through it. General-purpose clients spend 0.1-0.2 ms of Python per request on
things a proxy hop does not use (cookie jars, redirects, tracing hooks, timer objects per
phase). Here a request is one `transport.write`, the response is parsed by httptools (the
same C parser uvicorn serves with, so chunked bodies and keep-alive rules are its), and
connections go back to a small idle pool.

What it does not do: redirects, proxies from the environment, compression, HTTP/2. TLS
works through asyncio's own support when the base URL is https.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from roundhouse.daemon import __version__

# Past this much unread body the connection stops reading, so a slow consumer of a long
# stream does not make the daemon buffer it all.
_HIGH_WATER = 256 * 1024


class UpstreamError(Exception):
    """The upstream could not be reached, dropped the connection, or sent something that is
    not HTTP. `timeout` tells a silent upstream from a broken one."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class _Connection(asyncio.Protocol):
    """One TCP connection; carries one response at a time."""

    def __init__(self, on_lost: Callable[[_Connection], None]) -> None:
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: Exception | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self.status = 0
        self.headers_done = False
        self.complete = False
        self.reusable = False
        self._length_known = False
        self.retry_after: bytes | None = None
        self.body: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes while idle: the server is not speaking HTTP to us
            self._fail(UpstreamError("unexpected bytes from upstream between responses"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if not self.complete and self._parser is not None and self.error is None:
            if self.headers_done and not self._length_known:
                self.complete = True  # a body without a length ends with the connection
            else:
                self.error = UpstreamError("upstream closed the connection mid-response")
        self._wake()

    # -- httptools callbacks --
    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower in (b"content-length", b"transfer-encoding"):
            self._length_known = True
        elif lower == b"retry-after":
            self.retry_after = value

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self.status = self._parser.get_status_code()
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        assert self._parser is not None
        self.complete = True
        self.reusable = self._parser.should_keep_alive()
        self._wake()

    # -- used by the client --
    def begin(self, request: bytes) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers_done = self.complete = self.reusable = self._length_known = False
        self.retry_after = None
        self.body = []
        self._buffered = 0
        assert self.transport is not None
        self.transport.write(request)

    def take_body(self) -> bytes:
        data = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        self.body = []
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def finish(self) -> None:
        self._parser = None

    async def wait(self, limit_s: float) -> None:
        """Until more body, the end, or an error. Bytes that came in before a failure are handed
        over first: the error is raised on the next wait, so a reader never loses what the
        upstream did send (the lines of a stream cut short, say)."""
        if self.error is not None and not self.body:
            raise self.error
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(limit_s, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self.error is not None and not self.body:
            raise self.error

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.error = error
        self.close()
        self._wake()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamError("upstream sent nothing in time", timeout=True))


class Response:
    """The upstream's answer; the body is read once, whole or line by line."""

    def __init__(self, client: HTTP1Client, conn: _Connection) -> None:
        self._client = client
        self._conn = conn
        self.status = conn.status
        self.retry_after = conn.retry_after  # the raw header value, if the upstream sent one
        self._released = False

    async def read(self) -> bytes:
        conn = self._conn
        parts: list[bytes] = []
        while True:
            if conn.body:
                parts.append(conn.take_body())
            if conn.complete:
                break
            await conn.wait(self._client.read_timeout)
        self.release()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def text(self) -> str:
        return (await self.read()).decode("utf-8", "replace")

    async def lines(self) -> AsyncIterator[bytes]:
        """The body split at newlines, each line without its ending (SSE and NDJSON)."""
        conn = self._conn
        pending = b""
        while True:
            if conn.body:
                data = pending + conn.take_body()
                *complete, pending = data.split(b"\n")
                for line in complete:
                    yield line
            if conn.complete:
                break
            await conn.wait(self._client.read_timeout)
        self.release()
        if pending:
            yield pending

    def release(self) -> None:
        """Give the connection back if the response was read to its end, else close it (an
        unread response, e.g. a client that went away mid-stream, also stops the upstream)."""
        if self._released:
            return
        self._released = True
        conn = self._conn
        if conn.complete and conn.reusable and not conn.closed and conn.error is None:
            conn.finish()
            self._client.give_back(conn)
        else:
            conn.close()


class HTTP1Client:
    """Requests to one base URL over a pool of keep-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 300.0,
        max_idle: int = 32,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._prefix = parts.path.rstrip("/")
        default_port = self._port == (443 if self._ssl else 80)
        host = self._host if ":" not in self._host else f"[{self._host}]"
        host_header = host if default_port else f"{host}:{self._port}"
        fixed = {"Host": host_header, "User-Agent": f"roundhouse/{__version__}", **(headers or {})}
        self._fixed_headers = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    def post(self, path: str, body: bytes, *, read_timeout: float | None = None) -> _Exchange:
        head = (
            b"POST "
            + (self._prefix + path).encode()
            + b" HTTP/1.1\r\n"
            + self._fixed_headers
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        return _Exchange(self, head + body, read_timeout)

    def get(self, path: str, *, read_timeout: float | None = None) -> _Exchange:
        head = b"GET " + (self._prefix + path).encode() + b" HTTP/1.1\r\n" + self._fixed_headers + b"\r\n"
        return _Exchange(self, head, read_timeout)

    async def send(self, request: bytes, read_timeout: float | None = None) -> Response:
        timeout = self.read_timeout if read_timeout is None else read_timeout
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            try:
                return await self._exchange(conn, request, timeout)
            except UpstreamError as exc:
                # A kept-alive connection the server closed while idle fails before any
                # response byte: sending again on a new connection is safe then.
                if exc.timeout or conn.headers_done:
                    raise
        return await self._exchange(await self._connect(), request, timeout)

    async def _exchange(self, conn: _Connection, request: bytes, limit_s: float) -> Response:
        try:
            conn.begin(request)
            while not conn.headers_done:
                await conn.wait(limit_s)
        except BaseException:
            conn.close()
            raise
        return Response(self, conn)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._open.discard), self._host, self._port, ssl=self._ssl
                )
        except TimeoutError as exc:
            raise UpstreamError(f"connecting to {self._host}:{self._port} timed out", timeout=True) from exc
        except OSError as exc:
            reason = exc.strerror or exc
            raise UpstreamError(f"cannot connect to {self._host}:{self._port}: {reason}") from exc
        self._open.add(conn)
        return conn

    def give_back(self, conn: _Connection) -> None:
        if len(self._idle) < self._max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    async def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()


class _Exchange:
    """`async with client.post(...) as response:` sends on entry and releases on exit."""

    __slots__ = ("_client", "_request", "_response", "_timeout")

    def __init__(self, client: HTTP1Client, request: bytes, timeout: float | None) -> None:
        self._client = client
        self._request = request
        self._timeout = timeout
        self._response: Response | None = None

    async def __aenter__(self) -> Response:
        self._response = await self._client.send(self._request, self._timeout)
        return self._response

    async def __aexit__(self, *exc: Any) -> None:
        if self._response is not None:
            self._response.release()
