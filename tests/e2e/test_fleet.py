"""Several hosts serving one model: real llama.cpp servers on loopback ports, and Ollama
stand-ins for what only Ollama's management API tells (what is loaded, in how much memory)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.standins.engines import LlamaCppRouterStandin
from tests.standins.llama_server import LlamaServer
from tests.standins.ollama_server import FakeModel, GiB, OllamaStandin

NAMES = ("gpu-a", "gpu-b", "gpu-c")


def _start_servers(count: int) -> list[LlamaServer]:
    servers = [LlamaServer(n_ctx=512) for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(LlamaServer.start, servers))
    return servers


@pytest.fixture
def three_llama_servers() -> Iterator[list[LlamaServer]]:
    servers = _start_servers(3)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _llama_hosts(servers: list[LlamaServer]) -> list[dict[str, Any]]:
    return [{"name": n, "url": s.url, "kind": "llamacpp"} for n, s in zip(NAMES, servers, strict=True)]


def _daemon(start_daemon: Any, hosts: list[dict[str, Any]]) -> RunningDaemon:
    rh: RunningDaemon = start_daemon(
        hosts=hosts, embedded={"enabled": False}, fleet={"poll_s": 0.5}, cache={"enabled": False}
    )
    return rh


def _hosts(rh: RunningDaemon) -> dict[str, dict[str, Any]]:
    rows = httpx.get(rh.url + "/control/v1/hosts", timeout=10).json()["hosts"]
    return {row["name"]: row for row in rows}


def _chat(rh: RunningDaemon, prompt: str, *, model: str = "smollm2", max_tokens: int = 8) -> httpx.Response:
    return httpx.post(
        rh.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens},
        timeout=120,
    )


def test_requests_spread_over_the_hosts_that_serve_the_model_and_the_ledger_names_each(
    start_daemon: Any, three_llama_servers: list[LlamaServer]
) -> None:
    rh = _daemon(start_daemon, _llama_hosts(three_llama_servers))
    hosts = _hosts(rh)
    assert {hosts[n]["state"] for n in NAMES} == {"up"}
    assert all(hosts[n]["loaded"] == [{"model": "smollm2", "bytes": 0}] or hosts[n]["loaded"] for n in NAMES)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: _chat(rh, f"Count to {i}."), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    used = Counter(a.headers["x-roundhouse-route-backend"] for a in answers)
    assert set(used) == set(NAMES), used  # three hosts with the model: no one of them gets all six
    assert all("on host" in a.headers["x-roundhouse-route-reasons"] for a in answers)

    rows = rh.rows()
    assert Counter(r["backend"] for r in rows) == used
    assert {r["model_used"].split("/")[0] for r in rows} == set(NAMES)


def test_a_host_killed_mid_run_loses_no_request_that_had_not_started_streaming(
    start_daemon: Any, three_llama_servers: list[LlamaServer]
) -> None:
    rh = _daemon(start_daemon, _llama_hosts(three_llama_servers))
    victim = three_llama_servers[1]
    outcomes: list[tuple[str, int, bool, bool]] = []  # host, status, got content, finished cleanly
    lock = threading.Lock()
    victim_busy = threading.Event()

    def stream(i: int) -> None:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": f"Write a long story about the number {i}."}],
            "max_tokens": 48,
            "stream": True,
        }
        host, got_content, clean = "", False, False
        with httpx.stream("POST", rh.url + "/v1/chat/completions", json=body, timeout=120) as answer:
            host = answer.headers.get("x-roundhouse-route-backend", "")
            if host == "gpu-b":
                victim_busy.set()
            try:
                for line in answer.iter_lines():
                    if line.startswith("data: ") and '"content":"' in line:
                        got_content = True
                    if line == "data: [DONE]":
                        clean = True
            except httpx.HTTPError:
                clean = False
        with lock:
            outcomes.append((host, answer.status_code, got_content, clean))

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(9)]
    for thread in threads:
        thread.start()
    assert victim_busy.wait(60), "no request was placed on the second host"
    victim.kill()
    for thread in threads:
        thread.join(180)

    assert len(outcomes) == 9
    for host, status, got_content, clean in outcomes:
        # Only a request that was already streaming from the dead host may end badly.
        assert (status == 200 and clean) or (host == "gpu-b" and got_content), (host, status, clean)
    after = [_chat(rh, f"And now {i}?") for i in range(4)]
    assert [a.status_code for a in after] == [200] * 4
    assert "gpu-b" not in {a.headers["x-roundhouse-route-backend"] for a in after}
    deadline = time.monotonic() + 10
    while _hosts(rh)["gpu-b"]["state"] != "down" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _hosts(rh)["gpu-b"]["state"] == "down"


def _ollama(loaded: list[str], *models: str) -> OllamaStandin:
    standin = OllamaStandin(models=[FakeModel(name, size=2 * GiB) for name in models])
    standin.start()
    for name in loaded:
        model = standin._model(name)
        assert model is not None
        standin._load(model, "1h")
    return standin


@pytest.fixture
def two_ollama_hosts() -> Iterator[tuple[OllamaStandin, OllamaStandin]]:
    full = _ollama(["mistral:7b", "qwen2.5:7b"], "llama3.1:8b", "mistral:7b", "qwen2.5:7b")
    empty = _ollama([], "llama3.1:8b", "mistral:7b", "qwen2.5:7b")
    try:
        yield full, empty
    finally:
        full.stop()
        empty.stop()


def _ollama_daemon(start_daemon: Any, full: OllamaStandin, empty: OllamaStandin) -> RunningDaemon:
    return _daemon(
        start_daemon,
        [
            {"name": "box-full", "url": full.url, "kind": "ollama", "memory_gb": 4},
            {"name": "box-empty", "url": empty.url, "kind": "ollama", "memory_gb": 8},
        ],
    )


def test_a_host_whose_memory_is_full_sends_the_load_elsewhere(
    start_daemon: Any, two_ollama_hosts: tuple[OllamaStandin, OllamaStandin]
) -> None:
    full, empty = two_ollama_hosts
    rh = _ollama_daemon(start_daemon, full, empty)
    hosts = _hosts(rh)
    assert hosts["box-full"]["memory_free_bytes"] == 0
    assert {m["model"] for m in hosts["box-full"]["loaded"]} == {"mistral:7b", "qwen2.5:7b"}

    answer = _chat(rh, "Hello there", model="llama3.1:8b")
    assert answer.status_code == 200
    assert answer.headers["x-roundhouse-route-backend"] == "box-empty"
    assert "fits its free memory" in answer.headers["x-roundhouse-route-reasons"]
    assert not full.bodies("/api/chat") and empty.bodies("/api/chat")

    # What is loaded wins: the full host already holds mistral, so mistral goes there.
    answer = _chat(rh, "Hello again", model="mistral:7b")
    assert answer.headers["x-roundhouse-route-backend"] == "box-full"
    assert "loaded there" in answer.headers["x-roundhouse-route-reasons"]


def test_a_request_for_a_host_that_died_goes_to_another_placement_before_its_first_token(
    start_daemon: Any, two_ollama_hosts: tuple[OllamaStandin, OllamaStandin]
) -> None:
    full, empty = two_ollama_hosts
    rh = _ollama_daemon(start_daemon, full, empty)
    assert _chat(rh, "warm up", model="mistral:7b").headers["x-roundhouse-route-backend"] == "box-full"
    full.stop()  # the host that holds mistral goes away before the fleet's next look
    answer = _chat(rh, "My card is 4111 1111 1111 1111, summarize my bill", model="box-full/mistral:7b")
    assert answer.status_code == 200
    assert answer.headers["x-roundhouse-route-backend"] == "box-empty"
    route = json.loads(rh.rows()[-1]["route_json"])
    assert "fell back to box-empty/mistral:7b" in "; ".join(route["reasons"])


def test_a_host_added_through_the_control_api_takes_requests_and_leaves_when_removed(
    start_daemon: Any, llama_server: LlamaServer
) -> None:
    rh = _daemon(start_daemon, [])
    added = httpx.post(
        rh.url + "/control/v1/hosts",
        json={"name": "lab", "url": llama_server.url, "kind": "llamacpp"},
        timeout=30,
    )
    assert added.status_code == 201, added.text
    assert added.json()["host"]["state"] == "up"
    answer = _chat(rh, "Hi", model="lab/smollm2")
    assert answer.status_code == 200 and answer.headers["x-roundhouse-route-backend"] == "lab"

    taken = httpx.post(
        rh.url + "/control/v1/hosts", json={"name": "lab", "url": llama_server.url}, timeout=30
    )
    assert taken.status_code == 409
    bad = httpx.post(rh.url + "/control/v1/hosts", json={"name": "lab 2", "url": "ftp://x"}, timeout=30)
    assert bad.status_code == 400 and "name" in bad.text

    assert httpx.delete(rh.url + "/control/v1/hosts/lab", timeout=30).status_code == 200
    assert "lab" not in _hosts(rh)
    assert _chat(rh, "Hi", model="lab/smollm2").status_code == 404


def test_a_host_the_fleet_plans_unloads_its_least_recently_used_idle_model_to_make_room(
    start_daemon: Any,
) -> None:
    box = _ollama(["mistral:7b", "qwen2.5:7b"], "llama3.1:8b", "mistral:7b", "qwen2.5:7b")
    try:
        rh = _daemon(start_daemon, [{"name": "box", "url": box.url, "kind": "ollama", "memory_gb": 4}])
        assert _chat(rh, "Hi", model="qwen2.5:7b").status_code == 200  # mistral is now the older one
        answer = _chat(rh, "Hello", model="llama3.1:8b")
        assert answer.status_code == 200
        unloads = [b["model"] for b in box.bodies("/api/generate") if b.get("keep_alive") == 0]
        assert unloads == ["mistral:7b"]
        deadline = time.monotonic() + 10
        while (loaded := {m["model"] for m in _hosts(rh)["box"]["loaded"]}) != {"qwen2.5:7b", "llama3.1:8b"}:
            assert time.monotonic() < deadline, loaded
            time.sleep(0.1)
    finally:
        box.stop()


def test_metrics_show_every_host(
    start_daemon: Any, two_ollama_hosts: tuple[OllamaStandin, OllamaStandin]
) -> None:
    full, empty = two_ollama_hosts
    rh = _ollama_daemon(start_daemon, full, empty)
    text = httpx.get(rh.url + "/metrics", timeout=30).text
    assert 'roundhouse_host_up{host="box-full",kind="ollama"} 1.0' in text
    assert 'roundhouse_host_models_loaded{host="box-full"} 2.0' in text
    assert 'roundhouse_host_memory_free_bytes{host="box-empty"} 8.589934592e+09' in text


def test_models_stay_where_they_are_loaded_on_hosts_that_hold_one_at_a_time(start_daemon: Any) -> None:
    servers = [LlamaServer(n_ctx=512, aliases=("m1", "m2")) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(LlamaServer.start, servers))
    try:
        hosts = [
            {"name": name, "url": s.url, "kind": "openai", "max_loaded": 1}
            for name, s in zip(("one", "two"), servers, strict=True)
        ]
        rh = _daemon(start_daemon, hosts)
        placed = [
            (model, _chat(rh, f"Say {i}", model=model).headers["x-roundhouse-route-backend"])
            for i, model in enumerate(["m1", "m2"] * 3)
        ]
        assert len({host for model, host in placed if model == "m1"}) == 1, placed
        assert len({host for model, host in placed if model == "m2"}) == 1, placed
        assert {host for _, host in placed} == {"one", "two"}
        # Each server loads its first model when it starts; after that one load at most in all.
        loads = sum(s.output().count("llama_model_loader: loaded meta data") - 1 for s in servers)
        assert loads <= 1
    finally:
        for server in servers:
            server.stop()


def test_a_llama_cpp_router_that_may_hold_one_model_unloads_the_idle_one_first(start_daemon: Any) -> None:
    with LlamaCppRouterStandin(models=["gemma", "qwen"]) as router:
        router.status["gemma"] = {"value": "loaded"}
        hosts = [{"name": "router", "url": router.url, "kind": "llamacpp", "max_loaded": 1}]
        rh = _daemon(start_daemon, hosts)
        assert {m["model"] for m in _hosts(rh)["router"]["loaded"]} == {"gemma"}
        answer = _chat(rh, "Hello", model="router/qwen")
        assert answer.status_code == 200, answer.text
        assert "/models/unload" in router.paths("POST")
        assert router.status["gemma"]["value"] == "unloaded" and router.status["qwen"]["value"] == "loaded"
        assert _chat(rh, "Again", model="router/qwen").status_code == 200
        assert router.paths("POST").count("/models/unload") == 1  # qwen is loaded now: nothing to evict


def test_a_private_request_never_goes_to_a_host_off_the_users_network(start_daemon: Any) -> None:
    home = _ollama([], "llama3.1:8b")
    rented = _ollama(["llama3.1:8b"], "llama3.1:8b")
    try:
        rh = _daemon(
            start_daemon,
            [
                {"name": "home", "url": home.url, "kind": "ollama"},
                {"name": "rented", "url": rented.url, "kind": "ollama", "local": False},
            ],
        )
        private = _chat(rh, "My SSN is 123-45-6789, file my taxes", model="rented/llama3.1:8b")
        assert private.status_code == 200, private.text
        assert private.headers["x-roundhouse-route-backend"] == "home"
        # Loaded on the rented host, but not one of the local model's placements either.
        plain = _chat(rh, "Hello", model="home/llama3.1:8b")
        assert plain.headers["x-roundhouse-route-backend"] == "home"
        assert not rented.bodies("/api/chat")
    finally:
        home.stop()
        rented.stop()
