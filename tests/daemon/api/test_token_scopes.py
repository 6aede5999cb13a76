"""Admin and app tokens: an app token runs inference and reads its own rows, nothing more."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import httpx
import pytest

from roundhouse.daemon.tokens import Tokens, ensure_tray_token
from roundhouse.desktop.client import ControlClient, ControlError
from tests.conftest import RunningDaemon

EMBED = {"model": "local/all-minilm-l6-v2", "input": "hi"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon()


def admin_calls(rh: RunningDaemon, headers: dict[str, str]) -> dict[str, httpx.Response]:
    url = rh.url + "/control/v1"
    return {
        "mint": httpx.post(url + "/tokens", json={"name": "minted", "scope": "admin"}, headers=headers),
        "list tokens": httpx.get(url + "/tokens", headers=headers),
        "revoke": httpx.delete(url + "/tokens/someone-else", headers=headers),
        "key": httpx.put(url + "/keys/openai", json={"key": "sk-test-0123456789abcdef"}, headers=headers),
        "mode": httpx.put(url + "/routing/mode/cloud", headers=headers),
        "shutdown": httpx.post(url + "/shutdown", headers=headers),
    }


def test_an_app_token_is_refused_every_admin_call(rh: RunningDaemon) -> None:
    app = Tokens(rh.daemon.store).create("editor")
    for call, response in admin_calls(rh, bearer(app)).items():
        assert response.status_code == 403, call
        assert "admin token" in response.json()["error"]["message"], call
    assert rh.daemon.router.mode != "cloud"
    assert [t["name"] for t in Tokens(rh.daemon.store).list()] == ["editor"]


def test_an_admin_token_may_make_them(rh: RunningDaemon) -> None:
    admin = Tokens(rh.daemon.store).create("ops", "admin")
    answers = admin_calls(rh, bearer(admin))
    assert answers["mint"].status_code == 200 and answers["mint"].json()["scope"] == "admin"
    assert answers["list tokens"].status_code == 200
    assert answers["revoke"].status_code == 404  # allowed, and there is no such token
    assert answers["key"].status_code in (200, 409)  # 409: no keyring on this machine
    assert answers["mode"].status_code == 200 and rh.daemon.router.mode == "cloud"
    assert answers["shutdown"].status_code == 501  # allowed; this daemon runs inside the tests
    scopes = {t["name"]: t["scope"] for t in Tokens(rh.daemon.store).list()}
    assert scopes == {"ops": "admin", "minted": "admin"}


def test_an_app_token_reads_only_its_own_ledger_rows(rh: RunningDaemon) -> None:
    tokens = Tokens(rh.daemon.store)
    editor, notes, admin = tokens.create("editor"), tokens.create("notes"), tokens.create("ops", "admin")
    for token in (editor, notes, notes):
        assert httpx.post(rh.url + "/v1/embeddings", json=EMBED, headers=bearer(token)).status_code == 200
    rh.rows()
    url = rh.url + "/control/v1/requests"
    mine = httpx.get(url, headers=bearer(editor)).json()["requests"]
    assert [r["app"] for r in mine] == ["editor"]
    asking_for_another = httpx.get(url, params={"app": "notes"}, headers=bearer(editor)).json()["requests"]
    assert [r["app"] for r in asking_for_another] == ["editor"]
    everyone = httpx.get(url, headers=bearer(admin)).json()["requests"]
    assert sorted(r["app"] for r in everyone) == ["editor", "notes", "notes"]


def test_exposed_daemon_needs_an_admin_token_for_control_calls(start_daemon) -> None:  # type: ignore[no-untyped-def]
    rh = start_daemon(server={"host": "0.0.0.0"})
    tokens = Tokens(rh.daemon.store)
    app, admin = tokens.create("lan-app"), tokens.create("ops", "admin")
    status = rh.url + "/control/v1/status"
    assert httpx.get(status).status_code == 401
    assert httpx.get(status, headers=bearer(app)).status_code == 403
    assert httpx.get(status, headers=bearer(admin)).status_code == 200
    assert httpx.post(rh.url + "/v1/embeddings", json=EMBED, headers=bearer(app)).status_code == 200


def raw_request(rh: RunningDaemon, head: str) -> bytes:
    with socket.create_connection(("127.0.0.1", rh.server.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"}" in answer:
                break
        return answer


def test_duplicate_host_or_origin_is_refused(rh: RunningDaemon) -> None:
    host_twice = raw_request(
        rh,
        "GET /v1/models HTTP/1.1\r\nHost: evil.example.com\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    assert host_twice.startswith(b"HTTP/1.1 400") and b"more than one Host" in host_twice
    origin_twice = raw_request(
        rh,
        "GET /control/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example.com\r\n"
        "Origin: http://127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    assert origin_twice.startswith(b"HTTP/1.1 400") and b"more than one Origin" in origin_twice


def test_origins_with_userinfo_or_another_local_port_cannot_reach_the_control_api(rh: RunningDaemon) -> None:
    status = rh.url + "/control/v1/status"
    userinfo = httpx.get(status, headers={"Origin": f"http://127.0.0.1:{rh.server.port}@evil.example.com"})
    assert userinfo.status_code == 403 and "evil.example.com" in userinfo.json()["error"]["message"]
    other_port = httpx.get(status, headers={"Origin": "http://localhost:3000"})
    assert other_port.status_code == 403 and "control API" in other_port.json()["error"]["message"]
    own_pages = httpx.get(status, headers={"Origin": f"http://127.0.0.1:{rh.server.port}"})
    assert own_pages.status_code == 200  # /docs on the daemon itself
    # A local web app may still use the inference API from the browser.
    assert httpx.get(rh.url + "/v1/models", headers={"Origin": "http://localhost:3000"}).status_code == 200


async def test_the_tray_reaches_an_exposed_daemon_with_the_token_it_was_given(
    start_daemon,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    rh = start_daemon(server={"host": "0.0.0.0"})
    token_file = tmp_path / "tray-admin.token"
    client = ControlClient(rh.url, token_file=token_file)
    try:
        with pytest.raises(ControlError) as refused:
            await client.get("/control/v1/status")
        assert refused.value.status == 401
        tokens = Tokens(rh.daemon.store)
        token = ensure_tray_token(tokens, token_file)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert ensure_tray_token(tokens, token_file) == token, "a valid token is kept across restarts"
        assert (await client.get("/control/v1/status"))["version"]
        tokens.revoke("tray")
        assert ensure_tray_token(tokens, token_file) != token
    finally:
        await client.close()
