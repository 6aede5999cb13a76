"""The manager end to end: stand-in NVML in this process, the stand-in Ollama over HTTP,
the real Ollama backend, a real SQLite store and the real event bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from roundhouse.daemon.backends.catalog import Catalog
from roundhouse.daemon.backends.ollama import OllamaBackend
from roundhouse.daemon.events import EventBus
from roundhouse.daemon.models import ChatRequest, Priority
from roundhouse.daemon.residency.learned import LearnedFacts
from roundhouse.daemon.residency.manager import ModelTooLarge, ResidencyManager
from roundhouse.daemon.residency.readers.nvml import NvmlReader
from roundhouse.daemon.residency.settings import ResidencySettings
from roundhouse.daemon.routing.route import Target
from roundhouse.daemon.store import Store
from tests.daemon.residency.conftest import GiB, GpuScript
from tests.standins.ollama_server import FakeModel, OllamaStandin

OTHER_APP_PID = 4242


@dataclass
class Rig:
    manager: ResidencyManager
    ollama: OllamaStandin
    catalog: Catalog
    events: EventBus
    store: Store
    gpu: GpuScript

    async def target(self, name: str) -> Target:
        await self.catalog.refresh(force=True)
        target = self.catalog.resolve(name)
        assert target is not None, name
        return target

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events.recent()]

    def generate_bodies(self) -> list[dict[str, Any]]:
        return self.ollama.bodies("/api/generate")


@pytest.fixture
async def rig(
    nvml_gpu: GpuScript, ollama_standin_factory: Callable[..., OllamaStandin], tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Rig] = []

    async def build(
        models: list[FakeModel], *, total_gb: float = 4.75, others_gb: float = 0.5, **settings: Any
    ) -> Rig:
        others = int(others_gb * GiB)
        nvml_gpu.one_gpu(total=int(total_gb * GiB), used=others, processes=[(0, OTHER_APP_PID, others)])
        ollama = ollama_standin_factory(models=models)
        backend = OllamaBackend("ollama", ollama.url)
        catalog = Catalog([backend])
        events = EventBus()
        store = Store(tmp_path / f"rh-{len(made)}.db")
        settings.setdefault("headroom_gb", 0.0)
        # At 2k context the estimates are about 1.5 GB (small) and 3.6 GB (big): not both at once.
        settings.setdefault("context_length", 2048)
        manager = ResidencyManager(
            ResidencySettings(**settings),
            NvmlReader(),
            backends=lambda: catalog.backends,
            models=catalog.models,
            publish=events.publish,
            facts=LearnedFacts(store),
        )
        made.append(Rig(manager, ollama, catalog, events, store, nvml_gpu))
        return made[-1]

    yield build
    for r in made:
        await r.manager.stop()
        for backend in r.catalog.backends.values():
            await backend.close()
        r.store.close()


SMALL = FakeModel("small:latest", size=1 * GiB)
BIG = FakeModel("big:latest", size=3 * GiB)


async def test_ensure_loads_through_ollama_and_learns_what_it_used(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL, BIG])
    small = await r.target("ollama/small:latest")
    await r.manager.ensure(small)

    loads = [b for b in r.generate_bodies() if b.get("keep_alive") != 0]
    assert loads == [
        {
            "model": "small:latest",
            "keep_alive": "1h",
            **{k: loads[0][k] for k in loads[0] if k not in ("model", "keep_alive")},
        }
    ]
    assert "prompt" not in loads[0] or not loads[0]["prompt"]
    status = await r.manager.status()
    row = next(m for m in status["models"] if m["id"] == "ollama/small:latest")
    assert row["resident"] and row["size_vram"] == GiB and row["expires_at"]
    assert row["learned"]
    assert status["source"] == "nvml" and status["gpus"][0]["used_by_others_bytes"] == GiB // 2
    assert status["capacity_bytes"] == int(4.25 * GiB)
    assert "residency.load" in r.kinds()
    r.store.write_sync(lambda db: None)
    saved = list(r.store.db.query("SELECT model, size_vram FROM residency_observations"))
    assert saved == [{"model": "ollama/small:latest", "size_vram": GiB}]


async def test_an_idle_model_is_evicted_to_make_room(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL, BIG])
    async with r.manager.hold(await r.target("ollama/small:latest")):
        pass  # one request ran and finished
    await r.manager.ensure(await r.target("ollama/big:latest"))
    assert set(r.ollama.loaded) == {"big:latest"}
    unloads = [b for b in r.generate_bodies() if b.get("keep_alive") == 0]
    assert [b["model"] for b in unloads] == ["small:latest"]
    unload_event = next(e for e in r.events.recent() if e.kind == "residency.unload")
    assert unload_event.data["reason"] == "evicted for ollama/big:latest"


async def test_a_model_in_use_is_not_evicted_the_request_waits_in_the_queue(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL, BIG])
    small, big = await r.target("ollama/small:latest"), await r.target("ollama/big:latest")
    release = asyncio.Event()

    async def long_request() -> None:
        async with r.manager.hold(small):
            await release.wait()

    await r.manager.ensure(small)
    running = asyncio.create_task(long_request())
    waiting = asyncio.create_task(r.manager.ensure(big, Priority.BACKGROUND))
    for _ in range(20):
        await asyncio.sleep(0.02)
    assert not waiting.done()
    assert set(r.ollama.loaded) == {"small:latest"}
    assert (await r.manager.status())["models"][1]["queued"] == 1

    release.set()
    await running
    await asyncio.wait_for(waiting, timeout=30)
    assert set(r.ollama.loaded) == {"big:latest"}


async def test_a_model_larger_than_the_gpu_is_refused_with_a_clear_error(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([FakeModel("huge:latest", size=8 * GiB)])
    with pytest.raises(
        ModelTooLarge, match=r"needs 8\.\d GB but at most 4\.\d GB.*CPU spill is off"
    ) as caught:
        await r.manager.ensure(await r.target("ollama/huge:latest"))
    assert caught.value.status == 503
    assert r.ollama.loaded == {}
    assert "residency.refuse" in r.kinds()


async def test_spill_is_reported_and_kept_only_when_allowed(rig: Callable[..., Any]) -> None:
    tight = FakeModel("tight:latest", size=3 * GiB, vram=2 * GiB)
    r: Rig = await rig([tight], allow_cpu_spill=True)
    await r.manager.ensure(await r.target("ollama/tight:latest"))
    spill = next(e for e in r.events.recent() if e.kind == "residency.spill")
    assert "1.0 GB of 3.0 GB runs from system RAM" in spill.data["detail"]
    row = (await r.manager.status())["models"][0]
    assert row["spill"] is True and row["size_vram"] == 2 * GiB


async def test_no_silent_spill_the_request_is_refused_and_the_model_unloaded(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([FakeModel("tight:latest", size=3 * GiB, vram=2 * GiB)])
    with pytest.raises(ModelTooLarge, match=r"1\.0 GB of 3\.0 GB would run from system RAM"):
        await r.manager.ensure(await r.target("ollama/tight:latest"))
    assert r.ollama.loaded == {}
    assert "residency.spill" in r.kinds()


async def test_pinned_model_is_preloaded_when_idle_and_kept(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL, BIG], pinned=["ollama/small:latest"])
    await r.catalog.refresh(force=True)
    await r.manager.reconcile()  # tracks the pinned model
    await r.manager.reconcile()  # idle GPU: preloads it
    assert set(r.ollama.loaded) == {"small:latest"}
    with pytest.raises(ModelTooLarge):
        # About 3.6 GB beside the pinned 1 GB is more than the 4.25 GB free for models.
        await r.manager.ensure(await r.target("ollama/big:latest"))
    assert set(r.ollama.loaded) == {"small:latest"}


async def test_reconcile_adopts_models_loaded_behind_our_back_and_notices_unloads(
    rig: Callable[..., Any],
) -> None:
    r: Rig = await rig([SMALL, BIG], preload=False)
    await r.catalog.refresh(force=True)
    backend = r.catalog.backends["ollama"]
    await backend.load((await r.target("ollama/big:latest")).model, keep_alive="5m")
    await r.manager.reconcile()
    assert [m["id"] for m in (await r.manager.status())["models"] if m["resident"]] == ["ollama/big:latest"]
    await backend.unload((await r.target("ollama/big:latest")).model)
    await r.manager.reconcile()
    assert not any(m["resident"] for m in (await r.manager.status())["models"])
    assert {"residency.found", "residency.gone"} <= set(r.kinds())


async def test_other_apps_taking_vram_shrink_what_models_may_use(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL, BIG])
    r.gpu.one_gpu(total=4 * GiB, used=2 * GiB, processes=[(0, OTHER_APP_PID, 2 * GiB)])
    with pytest.raises(ModelTooLarge, match=r"at most 2\.\d GB"):
        await r.manager.ensure(await r.target("ollama/big:latest"))


async def test_runner_options_are_the_models_own_whatever_the_client_sends(rig: Callable[..., Any]) -> None:
    r: Rig = await rig(
        [SMALL], context_length=8192, model_options={"ollama/small:latest": {"num_batch": 256}}
    )
    target = await r.target("ollama/small:latest")
    request = ChatRequest(model="small", options={"num_ctx": 2048, "num_gpu": 1, "temperature": 0.3})
    r.manager.pin_runner_options(request, target)
    # The client's num_ctx / num_gpu give way to the model's own: Ollama never reloads for them.
    assert request.options == {"num_ctx": 8192, "num_batch": 256, "temperature": 0.3}
    assert request.keep_alive == "1h"
    await r.manager.ensure(target)
    load = next(b for b in r.generate_bodies() if b.get("keep_alive") == "1h")
    assert load["options"] == {"num_ctx": 8192, "num_batch": 256}


async def test_a_gpu_lost_mid_run_keeps_the_last_good_reading(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL])
    before = await r.manager.status()
    r.gpu.write(lost=True, gpus=[{"name": "x", "total": GiB, "free": GiB, "used": 0}])
    await r.manager.read_machine()
    after = await r.manager.status()
    assert after["gpus"][0]["total_bytes"] == before["gpus"][0]["total_bytes"] == int(4.75 * GiB)
    await r.manager.ensure(await r.target("ollama/small:latest"))
    assert set(r.ollama.loaded) == {"small:latest"}


async def test_memory_kept_for_an_image_job_unloads_idle_models_and_is_given_back(
    rig: Callable[..., Any],
) -> None:
    r: Rig = await rig([SMALL, BIG])
    small = await r.target("ollama/small:latest")
    async with r.manager.hold(small):
        pass
    assert set(r.ollama.loaded) == {"small:latest"}
    async with r.manager.hold_memory(4 * GiB, holder="comfyui") as evicted:
        assert evicted == ["ollama/small:latest"] and not r.ollama.loaded
        status = await r.manager.status()
        assert status["reserved_for"] == {"comfyui": 4 * GiB} and status["capacity_bytes"] < GiB
    status = await r.manager.status()
    assert status["reserved_for"] == {} and status["capacity_bytes"] == int(4.25 * GiB)
    await r.manager.ensure(small)  # the room is the text models' again
    assert set(r.ollama.loaded) == {"small:latest"}


async def test_memory_kept_for_an_image_job_leaves_a_model_in_use_alone(rig: Callable[..., Any]) -> None:
    r: Rig = await rig([SMALL, BIG])
    small = await r.target("ollama/small:latest")
    async with r.manager.hold(small), r.manager.hold_memory(4 * GiB, holder="comfyui") as evicted:
        assert evicted == [] and set(r.ollama.loaded) == {"small:latest"}


async def test_a_model_that_will_not_unload_for_an_image_job_does_not_keep_the_room(
    rig: Callable[..., Any],
) -> None:
    r: Rig = await rig([SMALL, BIG])
    async with r.manager.hold(await r.target("ollama/small:latest")):
        pass
    r.ollama.failures.append((500, "runner is busy"))  # the unload is refused
    async with r.manager.hold_memory(4 * GiB, holder="comfyui") as evicted:
        assert evicted == []
    assert (await r.manager.status())["reserved_for"] == {}
