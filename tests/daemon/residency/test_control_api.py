"""The residency control API and the request path, on a real daemon over HTTP, with the
stand-in NVML library in this process and the stand-in Ollama server as its backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.daemon.residency.conftest import GiB, GpuScript
from tests.standins.ollama_server import FakeModel, OllamaStandin

BASE = "/control/v1/residency"


@pytest.fixture
def daemon(
    nvml_gpu: GpuScript,
    ollama_standin_factory: Callable[..., OllamaStandin],
    start_daemon: Callable[..., RunningDaemon],
) -> tuple[RunningDaemon, OllamaStandin]:
    nvml_gpu.one_gpu(total=6 * GiB, used=GiB, name="NVIDIA GeForce RTX 2060", processes=[(0, 4242, GiB)])
    ollama = ollama_standin_factory(
        models=[FakeModel("small:latest", size=GiB), FakeModel("big:latest", size=3 * GiB)]
    )
    rh = start_daemon(
        ollama={"hosts": [ollama.url], "discover_local": False},
        residency={"headroom_gb": 0.5, "context_length": 2048, "preload": False},
    )
    return rh, ollama


def call(rh: RunningDaemon, method: str, path: str, **kw: Any) -> httpx.Response:
    with httpx.Client(base_url=rh.url, timeout=60) as client:
        return client.request(method, path, **kw)


def test_status_and_the_request_path(daemon: tuple[RunningDaemon, OllamaStandin]) -> None:
    rh, ollama = daemon
    status = call(rh, "GET", BASE).json()
    assert status["source"] == "nvml" and status["driver"] == "550.54.15"
    gpu = status["gpus"][0]
    assert gpu["name"] == "NVIDIA GeForce RTX 2060"
    assert (gpu["total_bytes"], gpu["used_by_others_bytes"], gpu["used_by_roundhouse_bytes"]) == (
        6 * GiB,
        GiB,
        0,
    )
    assert status["capacity_bytes"] == int(4.5 * GiB)
    assert call(rh, "GET", BASE + "/gpus").json()["gpus"][0]["free_bytes"] == 5 * GiB

    # A chat request to a local model loads it through residency first, with our runner options.
    messages = [{"role": "user", "content": "hi"}]
    body = {
        "model": "ollama/small:latest",
        "messages": messages,
        "stream": False,
        "options": {"num_ctx": 32768},
    }
    answer = call(rh, "POST", "/api/chat", json=body)
    assert answer.status_code == 200, answer.text
    loads = [b for b in ollama.bodies("/api/generate") if not b.get("prompt") and b.get("keep_alive") != 0]
    assert [b["model"] for b in loads] == ["small:latest"]
    models = {m["id"]: m for m in call(rh, "GET", BASE).json()["models"]}
    assert models["ollama/small:latest"]["resident"] is True
    assert models["ollama/small:latest"]["size_vram"] == GiB
    assert any(e.kind == "residency.load" for e in rh.daemon.events.recent())


def test_pin_unload_preload_and_bad_input(
    daemon: tuple[RunningDaemon, OllamaStandin], nvml_gpu: GpuScript
) -> None:
    rh, ollama = daemon
    pinned = call(rh, "POST", BASE + "/pin", json={"model": "small"})
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    assert call(rh, "GET", BASE).json()["pinned"] == ["ollama/small:latest"]

    preloaded = call(rh, "POST", BASE + "/preload", json={"model": "ollama/big:latest"})
    assert preloaded.status_code == 200 and preloaded.json()["resident"] is True
    assert "big:latest" in ollama.loaded

    unloaded = call(rh, "POST", BASE + "/unload", json={"model": "big"})
    assert unloaded.status_code == 200 and unloaded.json()["resident"] is False
    assert "big:latest" not in ollama.loaded
    again = call(rh, "POST", BASE + "/unload", json={"model": "big"})
    assert again.status_code == 409 and "not loaded" in again.text

    assert call(rh, "POST", BASE + "/unpin", json={"model": "small"}).json()["pinned"] is False
    missing = call(rh, "POST", BASE + "/pin", json={"model": "no-such-model"})
    assert missing.status_code == 404 and "no-such-model" in missing.text
    assert 400 <= call(rh, "POST", BASE + "/pin", json={}).status_code < 500

    # Another app takes most of the GPU: preloading the big model is now a conflict.
    nvml_gpu.one_gpu(total=6 * GiB, used=4 * GiB, processes=[(0, 4242, 4 * GiB)])
    refused = call(rh, "POST", BASE + "/preload", json={"model": "big"})
    assert refused.status_code == 409 and "GB" in refused.text
    assert "big:latest" not in ollama.loaded
