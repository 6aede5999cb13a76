"""The daemon's HTTP protocol: a response's head goes out with its body, and nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from roundhouse.daemon.api.http_protocol import _HeadWithBody
from roundhouse.daemon.cli import server_options
from tests.standins.runner import ThreadedServer


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


async def test_head_and_body_written_in_the_same_turn_go_out_as_one_write() -> None:
    inner = RecordingTransport()
    transport = _HeadWithBody(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.write(b"ok")
    assert inner.writes == [HEAD + b"ok"]
    await asyncio.sleep(0)  # the end-of-turn flush finds nothing left
    assert inner.writes == [HEAD + b"ok"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)


async def test_a_head_alone_goes_out_at_the_end_of_the_turn() -> None:
    inner = RecordingTransport()
    transport = _HeadWithBody(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    transport.write(b"later")
    assert inner.writes == [HEAD, b"later"]


async def test_closing_sends_a_held_head_first() -> None:
    inner = RecordingTransport()
    transport = _HeadWithBody(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD] and inner.closed


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/slow-stream":
        plain = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": plain})
        for word in (b"one ", b"two ", b"three"):
            await asyncio.sleep(0.02)
            await send({"type": "http.response.body", "body": word, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b"hello"
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def test_the_daemons_server_answers_every_kind_of_response_whole() -> None:
    with ThreadedServer(app, **server_options()) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(3):  # one kept-alive connection, several answers in a row
            answer = client.get("/plain")
            assert answer.status_code == 200 and answer.text == "hello"
            assert "server" not in answer.headers
        assert client.head("/plain").headers["content-length"] == "5"
        assert client.get("/empty").status_code == 204
        assert client.get("/slow-stream").text == "one two three"
