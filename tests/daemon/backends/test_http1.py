"""The upstream HTTP/1.1 client against a raw server on loopback that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roundhouse.daemon.backends.http1 import HTTP1Client, UpstreamError

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # returns False to hang up


class RawServer:
    """Reads requests off each connection and lets a test decide what bytes go back."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.handler(request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.closed.set()


def response(body: bytes, *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\ncontent-type: application/json\r\n"
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n"
        + extra
        + b"\r\n"
        + body
    )


async def json_ok(request: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(response(b'{"ok": true}'))
    await writer.drain()
    return True


async def test_requests_reuse_one_kept_alive_connection() -> None:
    async with RawServer(json_ok) as server:
        client = HTTP1Client(server.url, headers={"Authorization": "Bearer sk-test"})
        for _ in range(3):
            async with client.post("/chat/completions", b'{"model":"m"}') as answer:
                assert answer.status == 200
                assert json.loads(await answer.read()) == {"ok": True}
        await client.close()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer sk-test\r\n" in first
    assert b"\r\nHost: 127.0.0.1:" in first
    assert first.endswith(b'\r\n\r\n{"model":"m"}')


async def test_chunked_stream_is_split_into_lines_across_chunk_boundaries() -> None:
    events = [{"n": i, "text": "x" * 50} for i in range(20)]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    pieces = [body[i : i + 37] for i in range(0, len(body), 37)]  # cuts through lines

    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for piece in pieces:
            writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async with RawServer(chunked) as server:
        client = HTTP1Client(server.url)
        async with client.post("/chat/completions", b"{}") as answer:
            lines = [line async for line in answer.lines()]
        # The connection went back to the pool: the next request reuses it.
        async with client.post("/chat/completions", b"{}") as answer:
            again = [line async for line in answer.lines()]
        await client.close()
    data = [json.loads(line[6:]) for line in lines if line.startswith(b"data: {")]
    assert data == events
    assert lines[-2:] == [b"data: [DONE]", b""]
    assert again == lines
    assert server.connections == 1


async def test_a_connection_the_server_dropped_while_idle_is_replaced_silently() -> None:
    async def answer_once(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b"{}"))
        await writer.drain()
        return False  # keep-alive promised, but the server hangs up after each answer

    async with RawServer(answer_once) as server:
        client = HTTP1Client(server.url)
        for _ in range(3):
            async with client.post("/x", b"{}") as answer:
                assert answer.status == 200
                await answer.read()
            await server.closed.wait()
            server.closed.clear()
        await client.close()
    assert server.connections == 3


async def test_connection_close_responses_are_not_reused() -> None:
    async def close_after(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b"{}", extra=b"connection: close\r\n"))
        await writer.drain()
        return False

    async with RawServer(close_after) as server:
        client = HTTP1Client(server.url)
        for _ in range(2):
            async with client.post("/x", b"{}") as answer:
                await answer.read()
        await client.close()
    assert server.connections == 2


async def test_upstream_hanging_up_mid_response_is_an_error() -> None:
    async def truncated(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b'{"ok": true, "more": "never comes"}')[:-10])
        await writer.drain()
        return False

    async with RawServer(truncated) as server:
        client = HTTP1Client(server.url)
        with pytest.raises(UpstreamError, match="closed the connection mid-response"):
            async with client.post("/x", b"{}") as answer:
                await answer.read()
        await client.close()


async def test_nobody_listening_is_a_clear_error() -> None:
    async with RawServer(json_ok) as server:
        url = server.url
    client = HTTP1Client(url)
    with pytest.raises(UpstreamError, match=r"cannot connect to 127\.0\.0\.1"):
        async with client.post("/x", b"{}"):
            pass


async def test_a_silent_upstream_times_out() -> None:
    async def silent(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async with RawServer(silent) as server:
        client = HTTP1Client(server.url, read_timeout=0.2)
        with pytest.raises(UpstreamError) as caught:
            async with client.post("/x", b"{}"):
                pass
        assert caught.value.timeout
        await client.close()


async def test_leaving_a_stream_early_closes_its_connection() -> None:
    async def endless(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        try:
            while True:
                writer.write(b"6\r\nline\n\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            return False

    async with RawServer(endless) as server:
        client = HTTP1Client(server.url)
        async with client.post("/x", b"{}") as answer:
            lines: AsyncIterator[bytes] = answer.lines()
            assert await anext(lines) == b"line"
        # The upstream sees the hang-up (this is how a client's disconnect stops a backend).
        await asyncio.wait_for(server.closed.wait(), 5)
        await client.close()


async def test_a_large_body_arrives_whole_while_reading_pauses_and_resumes() -> None:
    big = json.dumps({"data": ["y" * 1000 for _ in range(2000)]}).encode()  # ~2 MB

    async def large(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(big))
        await writer.drain()
        return True

    async with RawServer(large) as server:
        client = HTTP1Client(server.url)
        async with client.post("/x", b"{}") as answer:
            assert await answer.read() == big
        await client.close()


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HTTP1Client("ftp://example.com/v1")
