"""Reading hosts through their engines' own APIs, and telling the driven ones to load and unload."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from roundhouse.daemon.fleet.drive import load, unload
from roundhouse.daemon.fleet.hosts import HostKind, HostSettings
from roundhouse.daemon.fleet.probes import probe
from tests.standins.engines import (
    LlamaCppRouterStandin,
    LlamaCppServerStandin,
    LlamaSwapStandin,
    LMStudioStandin,
    VllmStandin,
)
from tests.standins.llama_server import MODEL_ALIAS, LlamaServer
from tests.standins.ollama_server import FakeModel, OllamaStandin
from tests.standins.runner import free_port

GiB = 1024**3


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def host(url: str, kind: HostKind, **settings: object) -> HostSettings:
    return HostSettings(name="box", url=url, kind=kind, **settings)  # type: ignore[arg-type]


# -- Ollama ----------------------------------------------------------------------------


async def test_ollama_reports_what_it_holds_and_drives_loads(client: httpx.AsyncClient) -> None:
    models = [FakeModel("llama3.1:8b", size=5 * GiB, vram=4 * GiB), FakeModel("qwen3:4b", size=3 * GiB)]
    with OllamaStandin(models=models) as ollama:
        box = host(ollama.url, "ollama", memory_gb=16)

        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == ["llama3.1:8b", "qwen3:4b"]
        assert reading.loaded == {}
        assert reading.memory_total_bytes == 16 * GiB
        assert reading.memory_free_bytes == 16 * GiB
        assert reading.latency_ms is not None

        assert await load(box, client, "llama3.1:8b")
        assert await load(box, client, "qwen3:4b")
        reading = await probe(box, client)
        # What sits on the GPU when Ollama says so, else the whole size.
        assert reading.loaded == {"llama3.1:8b": 4 * GiB, "qwen3:4b": 3 * GiB}
        assert reading.memory_used_bytes == 7 * GiB
        assert reading.memory_free_bytes == 9 * GiB

        assert await unload(box, client, "llama3.1:8b")
        assert (await probe(box, client)).loaded == {"qwen3:4b": 3 * GiB}
        assert ollama.bodies("/api/generate")[-1] == {"model": "llama3.1:8b", "keep_alive": 0}


async def test_ollama_without_a_memory_size_reports_no_total(client: httpx.AsyncClient) -> None:
    with OllamaStandin() as ollama:
        reading = await probe(host(ollama.url, "ollama"), client)
    assert reading.ok
    assert reading.memory_total_bytes is None
    assert reading.memory_free_bytes is None


async def test_ollama_load_of_a_model_it_lacks_is_false(client: httpx.AsyncClient) -> None:
    with OllamaStandin() as ollama:
        assert not await load(host(ollama.url, "ollama"), client, "no-such-model:1b")


# -- llama.cpp router ------------------------------------------------------------------


async def test_llamacpp_router_lists_status_and_loads_and_unloads(client: httpx.AsyncClient) -> None:
    gemma = "ggml-org/gemma-3-4b-it-GGUF:Q4_K_M"
    with LlamaCppRouterStandin(loading_listings=2) as router:
        box = host(router.url, "llamacpp")

        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == [gemma, "qwen3-8b"]
        assert reading.loaded == {}
        assert "router" in reading.detail

        # The router answers the load at once; load() returns once the model reads "loaded".
        assert await load(box, client, gemma)
        assert (await probe(box, client)).loaded == {gemma: 0}
        assert router.paths("POST") == ["/models/load"]

        assert await unload(box, client, gemma)
        assert (await probe(box, client)).loaded == {}


async def test_llamacpp_router_counts_a_loading_model_as_resident(client: httpx.AsyncClient) -> None:
    with LlamaCppRouterStandin(loading_listings=5) as router:
        box = host(router.url, "llamacpp")
        await client.post(router.url + "/models/load", json={"model": "qwen3-8b"})
        assert (await probe(box, client)).loaded == {"qwen3-8b": 0}


async def test_llamacpp_router_load_that_fails_is_false(client: httpx.AsyncClient) -> None:
    with LlamaCppRouterStandin(broken={"qwen3-8b"}) as router:
        box = host(router.url, "llamacpp")
        assert not await load(box, client, "qwen3-8b")
        assert not await load(box, client, "not-in-the-router")
        assert (await probe(box, client)).loaded == {}


async def test_llamacpp_single_model_server_holds_its_model(client: httpx.AsyncClient) -> None:
    with LlamaCppServerStandin(loading=True, metrics=True, processing=2, deferred=5) as server:
        box = host(server.url, "llamacpp")
        reading = await probe(box, client)
        assert not reading.ok
        assert reading.detail == "the server is still loading its model"

        server.loading = False
        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == [server.model]
        assert reading.loaded == {server.model: server.size}
        assert (reading.running, reading.waiting) == (2, 5)

        server.metrics = False  # started without --metrics
        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert (reading.running, reading.waiting) == (0, 0)

        # Its model is the process: there is nothing to load or unload.
        assert not await load(box, client, server.model)
        assert not await unload(box, client, server.model)
        assert (await probe(box, client)).loaded == {server.model: server.size}


# -- llama-swap ------------------------------------------------------------------------


async def test_llama_swap_running_models_and_drive(client: httpx.AsyncClient) -> None:
    with LlamaSwapStandin(running={"gemma3-4b": "stopping"}) as swap:
        box = host(swap.url, "llama-swap")

        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == ["qwen3-8b", "gemma3-4b"]
        assert reading.loaded == {}  # a stopping process is on its way out

        assert await load(box, client, "qwen3-8b")
        assert swap.running == {"qwen3-8b": "ready", "gemma3-4b": "stopping"}
        assert (await probe(box, client)).loaded == {"qwen3-8b": 0}

        assert await unload(box, client, "qwen3-8b")
        assert "/api/models/unload/qwen3-8b" in swap.paths("POST")
        assert (await probe(box, client)).loaded == {}
        assert not await unload(box, client, "not-configured")


async def test_llama_swap_starting_model_counts_as_loaded(client: httpx.AsyncClient) -> None:
    with LlamaSwapStandin(running={"gemma3-4b": "starting"}) as swap:
        assert (await probe(host(swap.url, "llama-swap"), client)).loaded == {"gemma3-4b": 0}


# -- LM Studio -------------------------------------------------------------------------


async def test_lmstudio_native_api_reports_loaded_sizes(client: httpx.AsyncClient) -> None:
    with LMStudioStandin() as studio:
        box = host(studio.url, "lmstudio", memory_gb=32)
        await client.post(studio.url + "/api/v1/models/load", json={"model": "google/gemma-3-4b"})

        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == ["qwen/qwen3-8b", "google/gemma-3-4b"]
        assert reading.loaded == {"google/gemma-3-4b": GiB}
        assert reading.memory_free_bytes == 31 * GiB

        await client.post(studio.url + "/api/v1/models/unload", json={"instance_id": "google/gemma-3-4b"})
        assert (await probe(box, client)).loaded == {}


async def test_lmstudio_before_0_4_is_read_from_its_v0_api(client: httpx.AsyncClient) -> None:
    with LMStudioStandin(rest_api="v0", loaded={"qwen/qwen3-8b"}) as studio:
        reading = await probe(host(studio.url, "lmstudio"), client)
    assert reading.ok, reading.detail
    assert reading.loaded == {"qwen/qwen3-8b": 0}
    assert reading.models == ["qwen/qwen3-8b", "google/gemma-3-4b"]


async def test_lmstudio_without_its_rest_api_still_lists_models(client: httpx.AsyncClient) -> None:
    with LMStudioStandin(rest_api="none", loaded={"qwen/qwen3-8b"}) as studio:
        box = host(studio.url, "lmstudio")
        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == ["qwen/qwen3-8b", "google/gemma-3-4b"]
        assert reading.loaded == {}
        assert "loaded models unknown" in reading.detail
        # LM Studio manages its own memory: nothing is asked of it.
        before = len(studio.requests)
        assert not await load(box, client, "qwen/qwen3-8b")
        assert not await unload(box, client, "qwen/qwen3-8b")
        assert len(studio.requests) == before


# -- vLLM and other OpenAI-compatible servers -------------------------------------------


async def test_vllm_queue_and_cache_come_from_its_metrics(client: httpx.AsyncClient) -> None:
    with VllmStandin(running=5, waiting=3, kv_cache_usage=0.42, engines=2) as vllm:
        box = host(vllm.url, "vllm")
        reading = await probe(box, client)
        assert reading.ok, reading.detail
        assert reading.models == [vllm.model]
        assert reading.loaded == {vllm.model: 0}
        assert (reading.running, reading.waiting) == (5, 3)
        assert reading.detail == "KV cache 42% used"
        assert reading.memory_total_bytes is None

        await client.post(
            vllm.url + "/v1/load_lora_adapter", json={"lora_name": "sql-lora", "lora_path": "/loras/sql"}
        )
        assert set((await probe(box, client)).loaded) == {vllm.model, "sql-lora"}

        before = len(vllm.requests)
        assert not await load(box, client, vllm.model)
        assert not await unload(box, client, vllm.model)
        assert len(vllm.requests) == before


async def test_vllm_v0_cache_gauge_and_missing_metrics(client: httpx.AsyncClient) -> None:
    with VllmStandin(legacy_metrics=True, kv_cache_usage=0.9, waiting=7) as vllm:
        reading = await probe(host(vllm.url, "vllm"), client)
        assert reading.detail == "KV cache 90% used"
        assert reading.waiting == 7
        for status in (404, 401):  # no vLLM metrics there (Ray Serve, GPUStack), or locked
            vllm.metrics_status = status
            reading = await probe(host(vllm.url, "vllm"), client)
            assert reading.ok, reading.detail
            assert reading.loaded == {vllm.model: 0}
            assert (reading.running, reading.waiting, reading.detail) == (0, 0, "")


async def test_openai_kind_lists_models_without_claiming_loaded(client: httpx.AsyncClient) -> None:
    with VllmStandin(running=4) as server:
        reading = await probe(host(server.url, "openai"), client)
    assert reading.ok, reading.detail
    assert reading.models == [server.model]
    assert reading.loaded == {}
    assert reading.running == 0  # an unknown server's metrics are not read
    assert server.paths() == ["/v1/models"]


# -- a real llama.cpp server -----------------------------------------------------------


async def test_real_llama_cpp_server_as_llamacpp_and_openai(
    client: httpx.AsyncClient, llama_server: LlamaServer
) -> None:
    reading = await probe(host(llama_server.url, "llamacpp"), client, timeout_s=10)
    assert reading.ok, reading.detail
    assert reading.models == [MODEL_ALIAS]
    assert reading.loaded == {MODEL_ALIAS: 0}  # a single-model server holds what it serves

    reading = await probe(host(llama_server.url, "openai"), client, timeout_s=10)
    assert reading.ok, reading.detail
    assert reading.models == [MODEL_ALIAS]
    assert reading.loaded == {}

    # Not a router: it has no load call, and its one model is not let go.
    assert not await load(host(llama_server.url, "llamacpp"), client, MODEL_ALIAS, timeout_s=10)
    assert not await unload(host(llama_server.url, "llamacpp"), client, MODEL_ALIAS, timeout_s=10)
    assert (await probe(host(llama_server.url, "llamacpp"), client, timeout_s=10)).loaded == {MODEL_ALIAS: 0}


# -- hosts that are down, slow, broken or locked ---------------------------------------


@pytest.mark.parametrize("kind", ["ollama", "llamacpp", "llama-swap", "lmstudio", "vllm", "openai"])
async def test_dead_port_is_not_ok_with_a_clear_reason(client: httpx.AsyncClient, kind: HostKind) -> None:
    port = free_port()
    box = host(f"http://127.0.0.1:{port}", kind)
    reading = await probe(box, client)
    assert not reading.ok
    assert reading.detail.startswith(f"cannot connect to 127.0.0.1:{port}")
    assert reading.latency_ms is not None
    assert not await load(box, client, "any")
    assert not await unload(box, client, "any")


async def test_slow_host_times_out(client: httpx.AsyncClient) -> None:
    with VllmStandin(delay_s=2.0) as slow:
        reading = await probe(host(slow.url, "vllm"), client, timeout_s=0.3)
    assert not reading.ok
    assert reading.detail == "timed out after 0.3 s"


@pytest.mark.parametrize("standin", [VllmStandin, LlamaSwapStandin, LlamaCppRouterStandin, LMStudioStandin])
async def test_host_answering_500_is_not_ok(client: httpx.AsyncClient, standin: type) -> None:
    kinds = {
        VllmStandin: "vllm",
        LlamaSwapStandin: "llama-swap",
        LlamaCppRouterStandin: "llamacpp",
        LMStudioStandin: "lmstudio",
    }
    with standin(fail_status=500) as broken:
        reading = await probe(host(broken.url, kinds[standin]), client)
    assert not reading.ok
    assert "HTTP 500" in reading.detail


async def test_ollama_answering_500_is_not_ok(client: httpx.AsyncClient) -> None:
    with VllmStandin(fail_status=500) as broken:  # any server that fails every request
        reading = await probe(host(broken.url, "ollama"), client)
    assert not reading.ok
    assert reading.detail == "GET /api/ps answered HTTP 500"


async def test_api_key_is_sent_as_bearer_and_kept_out_of_the_reading(client: httpx.AsyncClient) -> None:
    key = "sk-fleet-4c1d9e7a0b"
    with LlamaCppRouterStandin(api_key=key) as router:
        box = host(router.url, "llamacpp", has_key=True)

        reading = await probe(box, client, api_key=key)
        assert reading.ok, reading.detail
        assert set(router.authorizations()) == {f"Bearer {key}"}
        assert key not in repr(reading)
        assert await load(box, client, "qwen3-8b", api_key=key)

        refused = await probe(box, client, api_key="sk-wrong-key")
        assert not refused.ok
        assert "refused the API key" in refused.detail
        assert "sk-wrong-key" not in repr(refused)

        missing = await probe(box, client)
        assert not missing.ok
        assert "wants an API key" in missing.detail
        assert not await unload(box, client, "qwen3-8b")


async def test_answer_that_is_not_the_engine_api_is_not_ok(client: httpx.AsyncClient) -> None:
    with LlamaSwapStandin() as swap:  # asked as if it were Ollama: no /api/ps there
        reading = await probe(host(swap.url, "ollama"), client)
    assert not reading.ok
    assert reading.detail == "GET /api/ps answered HTTP 404"
