"""Pulling a model through Ollama, changing residency headroom, and stopping the daemon: a real
daemon over HTTP with the stand-in Ollama server as its backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.standins.ollama_server import OllamaStandin
from tests.standins.runner import free_port

PULL = "/control/v1/models/pull"


@pytest.fixture
def rh(ollama_standin: OllamaStandin, start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    return start_daemon(
        ollama={"hosts": [ollama_standin.url], "discover_local": False},
        residency={"preload": False},
    )


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_pull_streams_progress_and_the_model_is_listed_after(
    rh: RunningDaemon, ollama_standin: OllamaStandin
) -> None:
    with httpx.Client(base_url=rh.url, timeout=30) as client:
        listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert "ollama/llama3.2:1b" not in listed
        with client.stream("POST", PULL, json={"model": "llama3.2:1b", "backend": "ollama"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in response.iter_lines() if line]
        listed = [m["id"] for m in client.get("/v1/models").json()["data"]]

    assert lines[0]["status"] == "pulling manifest"
    downloads = [line for line in lines if "total" in line]
    assert len(downloads) == ollama_standin.pull_steps
    assert downloads[-1]["completed"] == downloads[-1]["total"] > downloads[0]["completed"]
    assert lines[-1] == {"status": "success"}
    assert "ollama/llama3.2:1b" in listed
    assert ollama_standin.bodies("/api/pull")[0]["model"] == "llama3.2:1b"


def test_leaving_a_pull_stops_the_upstream_download(rh: RunningDaemon, ollama_standin: OllamaStandin) -> None:
    ollama_standin.pull_steps = 200
    with (
        httpx.Client(base_url=rh.url, timeout=30) as client,
        client.stream("POST", PULL, json={"model": "big:70b"}) as response,
    ):
        assert response.status_code == 200
        seen = 0
        for line in response.iter_lines():
            seen += bool(line)
            if seen == 3:
                break
    assert wait_for(lambda: ollama_standin.pulls_cancelled == 1)
    assert ollama_standin.pulls_finished == 0
    assert "big:70b" not in [m.name for m in ollama_standin.models]


def test_pull_errors_are_in_the_openai_shape(rh: RunningDaemon, ollama_standin: OllamaStandin) -> None:
    ollama_standin.pull_missing.add("no-such-model")
    with httpx.Client(base_url=rh.url, timeout=30) as client:
        missing = client.post(PULL, json={"model": "no-such-model"})
        no_backend = client.post(PULL, json={"model": "x", "backend": "ollama-9"})
        empty = client.post(PULL, json={"model": ""})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert "no model 'no-such-model' to pull" in missing.json()["error"]["message"]
    assert no_backend.status_code == 404
    assert no_backend.json()["error"]["message"] == "no Ollama backend named 'ollama-9'"
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "model"


def test_headroom_changes_at_once_and_negative_is_refused(rh: RunningDaemon) -> None:
    with httpx.Client(base_url=rh.url, timeout=30) as client:
        before = client.get("/control/v1/residency").json()
        changed = client.patch(
            "/control/v1/residency/settings", json={"headroom_gb": 2.5, "allow_cpu_spill": True}
        )
        after = client.get("/control/v1/residency").json()
        negative = client.patch("/control/v1/residency/settings", json={"headroom_gb": -1})
        unknown = client.patch("/control/v1/residency/settings", json={"vram_budget_gb": 3})
        still = client.get("/control/v1/residency").json()
    assert before["headroom_bytes"] == 1024**3 and before["allow_cpu_spill"] is False
    assert changed.status_code == 200 and changed.json()["headroom_bytes"] == int(2.5 * 1024**3)
    assert after["headroom_bytes"] == int(2.5 * 1024**3) and after["allow_cpu_spill"] is True
    assert negative.status_code == 400 and negative.json()["error"]["param"] == "headroom_gb"
    assert unknown.status_code == 400
    assert still["headroom_bytes"] == int(2.5 * 1024**3)


def test_shutdown_makes_the_daemon_exit(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROUNDHOUSE_")},
        "ROUNDHOUSE_HOME": str(tmp_path / "home"),
        "ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false",
    }
    log = (tmp_path / "console.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "roundhouse.daemon.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, (tmp_path / "console.log").read_text()[-2000:]
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(healthy, 120), "the daemon did not become ready"
        answer = httpx.post(f"{url}/control/v1/shutdown", timeout=10)
        assert answer.status_code == 202 and answer.json() == {"status": "stopping"}
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()
