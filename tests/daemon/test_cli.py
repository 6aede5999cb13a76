"""`roundhoused` as a person uses it: version, serve, tokens, keys, route --explain, config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from roundhouse.daemon import __version__
from roundhouse.daemon.secrets import Secrets
from tests.conftest import keyring_or_skip
from tests.standins.runner import free_port

ROUNDHOUSED = str(Path(sys.executable).parent / "roundhoused")


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROUNDHOUSED, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"roundhoused {__version__}"


def test_token_create_list_revoke(rh_home: Path) -> None:
    created = run("token", "create", "open-webui")
    token = created.stdout.strip()
    assert created.returncode == 0 and token.startswith("rh-") and "shown once" in created.stderr
    listed = run("token", "list")
    assert listed.stdout.strip() == f"open-webui\tapp\t…{token[-4:]}"
    assert run("token", "create", "bad name!").returncode == 2
    assert run("token", "revoke", "open-webui").returncode == 0
    missing = run("token", "revoke", "open-webui")
    assert missing.returncode == 1 and "no token" in missing.stderr


def test_keys_set_list_delete_never_print_the_key(rh_home: Path) -> None:
    service = Secrets(service="roundhouse")
    keyring_or_skip(service)
    key = "sk-cli-test-0123456789abcdefQRST"
    previous = service.get("groq")
    try:
        stored = run("keys", "set", "groq", stdin=key + "\n")
        assert (
            stored.returncode == 0 and key not in stored.stdout + stored.stderr and "…QRST" in stored.stdout
        )
        listed = run("keys", "list")
        assert "groq\t…QRST" in listed.stdout and key not in listed.stdout
        assert run("keys", "set", "nosuchprovider", stdin="x").returncode == 2
        assert run("keys", "delete", "groq").returncode == 0
        assert "groq\t-" in run("keys", "list").stdout
    finally:
        if previous:
            service.set("groq", previous)


def test_keys_without_a_keyring_refuse_plainly(rh_home: Path) -> None:
    result = run(
        "keys",
        "set",
        "openai",
        stdin="sk-whatever-123456\n",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 1 and "no secure keyring" in result.stderr


def test_route_explain_prints_a_decision_without_running_it(rh_home: Path) -> None:
    result = run("route", "--explain", "What is 2 + 2?", env={"ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false"})
    assert result.returncode == 0, result.stderr
    import json

    decision = json.loads(result.stdout)
    assert decision["model"].startswith("local/") and decision["reasons"]


def test_config_paths_follow_roundhouse_home(rh_home: Path) -> None:
    result = run("config", "paths")
    assert f"config\t{rh_home / 'config' / 'config.toml'}" in result.stdout
    assert "[server]" in run("config", "example").stdout


def test_serve_answers_then_stops_on_sigterm(rh_home: Path, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        [ROUNDHOUSED, "serve", "--port", str(port)],
        env={**os.environ, "ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false"},
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("daemon did not become ready")
        status = httpx.get(f"http://127.0.0.1:{port}/control/v1/status").json()
        assert status["version"] == __version__ and status["backends"]["embedded"]["ok"]
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"].keys() >= {
            "/v1/chat/completions",
            "/api/chat",
            "/control/v1/status",
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        log.close()
        assert "Application shutdown complete" in (tmp_path / "daemon.log").read_text()
