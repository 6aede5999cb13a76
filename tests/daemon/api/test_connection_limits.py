"""Limits met before any token: slow heads and bodies, huge heads, too many connections."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningDaemon

HALF_A_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends before it closes; raises socket.timeout if it never does."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon(
        server={
            "header_timeout_s": 1,
            "body_timeout_s": 1,
            "max_header_bytes": 16384,
            "max_connections_per_peer": 80,
        }
    )


def test_slow_clients_are_cut_off_while_health_answers(rh: RunningDaemon) -> None:
    slow = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", rh.server.port), timeout=15)
        sock.sendall(HALF_A_HEAD)
        slow.append(sock)
    idle = [socket.create_connection(("127.0.0.1", rh.server.port), timeout=15) for _ in range(5)]
    slow_body = socket.create_connection(("127.0.0.1", rh.server.port), timeout=15)
    slow_body.sendall(
        b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"model": '
    )
    try:
        with httpx.Client(base_url=rh.url) as client:
            assert client.get("/health").status_code == 200
        for sock in slow:
            answer = read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive" in answer
        for sock in idle:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 408")
        answer = read_until_closed(slow_body)
        assert answer.startswith(b"HTTP/1.1 408") and b"request body" in answer
    finally:
        for sock in [*slow, *idle, slow_body]:
            sock.close()
    assert httpx.get(rh.url + "/health").status_code == 200


def test_an_oversized_head_is_refused_without_being_held(rh: RunningDaemon) -> None:
    with socket.create_connection(("127.0.0.1", rh.server.port), timeout=15) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431")
    before = rss_bytes()
    # 64 MiB of one header, never finished: the daemon must not keep it.
    with socket.create_connection(("127.0.0.1", rh.server.port), timeout=15) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(64):
                sock.sendall(b"a" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
        grown = rss_bytes() - before
        answer = read_until_closed(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431")
    assert grown < 16 << 20, f"the daemon grew by {grown >> 20} MiB holding a refused header"
    assert httpx.get(rh.url + "/health").status_code == 200


def test_connections_per_peer_are_capped(start_daemon) -> None:  # type: ignore[no-untyped-def]
    rh = start_daemon(server={"max_connections_per_peer": 4})
    held = [socket.create_connection(("127.0.0.1", rh.server.port), timeout=15) for _ in range(4)]
    try:
        with socket.create_connection(("127.0.0.1", rh.server.port), timeout=15) as extra:
            answer = read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503") and b"too many connections from 127.0.0.1" in answer
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the closes reach the server's loop in a moment
        try:
            if httpx.get(rh.url + "/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    assert httpx.get(rh.url + "/health").status_code == 200
