"""Who may call: app tokens, the DNS-rebinding guard, the body limit, and disconnects."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from roundhouse.daemon.tokens import Tokens
from tests.conftest import RunningDaemon


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon(server={"max_body_bytes": 4096})


def test_foreign_host_and_origin_are_refused(rh: RunningDaemon) -> None:
    rebinding = httpx.get(rh.url + "/v1/models", headers={"Host": "evil.example.com"})
    assert rebinding.status_code == 403 and "evil.example.com" in rebinding.json()["error"]["message"]
    browser = httpx.get(rh.url + "/api/tags", headers={"Origin": "https://evil.example.com"})
    assert browser.status_code == 403 and "error" in browser.json()
    assert httpx.get(rh.url + "/v1/models", headers={"Host": "localhost:1"}).status_code == 200
    assert httpx.get(rh.url + "/v1/models", headers={"Origin": "http://localhost:3000"}).status_code == 200


def test_tokens_name_the_app_in_the_ledger(rh: RunningDaemon) -> None:
    token = Tokens(rh.daemon.store).create("editor")
    body = {"model": "local/all-minilm-l6-v2", "input": "hi"}
    response = httpx.post(rh.url + "/v1/embeddings", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    row = rh.rows("SELECT app FROM requests WHERE id = ?", [response.headers["x-roundhouse-request-id"]])[0]
    assert row["app"] == "editor"
    anonymous = httpx.post(rh.url + "/v1/embeddings", json=body)
    assert (
        rh.rows("SELECT app FROM requests WHERE id = ?", [anonymous.headers["x-roundhouse-request-id"]])[0][
            "app"
        ]
        == "unknown"
    )
    bad = httpx.post(rh.url + "/v1/embeddings", json=body, headers={"Authorization": "Bearer rh-forged"})
    assert bad.status_code == 401 and "token" in bad.json()["error"]["message"]
    Tokens(rh.daemon.store).revoke("editor")
    time.sleep(1.1)
    assert (
        httpx.post(
            rh.url + "/v1/embeddings", json=body, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )


def test_tokens_never_stored_in_clear(rh: RunningDaemon) -> None:
    token = httpx.post(rh.url + "/control/v1/tokens", json={"name": "scripts"}).json()["token"]
    assert token.startswith("rh-")
    raw = rh.daemon.store.path.read_bytes()
    assert token.encode() not in raw
    listed = httpx.get(rh.url + "/control/v1/tokens").json()["tokens"]
    assert listed == [
        {"name": "scripts", "hint": "…" + token[-4:], "created": listed[0]["created"], "scope": "app"}
    ]


def test_non_loopback_bind_requires_a_token(start_daemon) -> None:  # type: ignore[no-untyped-def]
    # Bound to every address: even a loopback caller needs a token (the server is reachable from the LAN).
    rh = start_daemon(server={"host": "0.0.0.0"})
    refused = httpx.get(rh.url + "/v1/models")
    assert refused.status_code == 401 and "roundhoused token create" in refused.json()["error"]["message"]
    assert httpx.get(rh.url + "/health").status_code == 200
    token = Tokens(rh.daemon.store).create("lan-app")
    assert httpx.get(rh.url + "/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_oversize_body_is_413_in_each_dialect(rh: RunningDaemon) -> None:
    big = {"model": "local/smollm2-135m", "messages": [{"role": "user", "content": "x" * 10_000}]}
    openai_style = httpx.post(rh.url + "/v1/chat/completions", json=big)
    assert openai_style.status_code == 413 and "too large" in openai_style.json()["error"]["message"]
    ollama_style = httpx.post(rh.url + "/api/chat", json=big)
    assert ollama_style.status_code == 413 and "too large" in ollama_style.json()["error"]

    def chunks():  # type: ignore[no-untyped-def]
        yield json.dumps(big).encode()

    chunked = httpx.post(rh.url + "/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413


def test_unknown_endpoint_and_method(rh: RunningDaemon) -> None:
    missing = httpx.get(rh.url + "/v1/nothing-here")
    assert missing.status_code == 404 and "/v1/nothing-here" in missing.json()["error"]["message"]
    wrong = httpx.get(rh.url + "/api/chat")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_client_disconnect_mid_stream_cancels_backend_work(start_daemon, ollama_standin) -> None:  # type: ignore[no-untyped-def]
    ollama_standin.token_delay_s = 0.2
    ollama_standin.reply_text = lambda prompt: " ".join(["word"] * 50)  # type: ignore[method-assign]
    rh = start_daemon(ollama={"hosts": [ollama_standin.url], "discover_local": False})
    body = json.dumps(
        {"model": "ollama/llama3.1:8b", "messages": [{"role": "user", "content": "go"}], "stream": True}
    )
    with socket.create_connection(("127.0.0.1", rh.server.port)) as sock:
        sock.sendall(
            f"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        received = b""
        while received.count(b'"done":false') < 2:
            received += sock.recv(4096)
    deadline = time.monotonic() + 10
    while ollama_standin.streams_cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ollama_standin.streams_cancelled == 1 and ollama_standin.streams_finished == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not rh.rows():
        time.sleep(0.05)
    assert rh.rows()[-1]["status"] == 499 and rh.rows()[-1]["error_kind"] == "client_closed"
