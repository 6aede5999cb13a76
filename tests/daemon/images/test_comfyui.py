"""The ComfyUI client and workflows against a ComfyUI stand-in on loopback (HTTP and websocket)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.images import ComfyUIClient, ComfyUIError, WorkflowError, fill, load_workflow
from tests.standins.comfyui_server import ComfyUIStandin, GiB
from tests.standins.runner import free_port

CHECKPOINT = "sd_xl_base_1.0.safetensors"


@pytest.fixture
def comfy() -> Iterator[ComfyUIStandin]:
    with ComfyUIStandin() as standin:
        yield standin


def request(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "width": 512,
        "height": 512,
        "steps": 4,
        "seed": 42,
        "checkpoint": CHECKPOINT,
    }
    return fill(load_workflow(), **(values | overrides))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def node_of(workflow: dict[str, Any], class_type: str) -> dict[str, Any]:
    [node] = [node for node in workflow.values() if node["class_type"] == class_type]
    return node["inputs"]


async def test_generate_returns_a_png_of_the_asked_size_and_reports_every_step(comfy: ComfyUIStandin) -> None:
    steps: list[tuple[int, int]] = []
    images = await ComfyUIClient(comfy.url).generate(
        request(width=768, height=384, steps=6, seed=1234),
        on_progress=lambda value, top: steps.append((value, top)),
    )

    [image] = images
    assert png_size(image.data) == (768, 384)
    assert image.mime == "image/png"
    assert image.filename.endswith(".png")
    assert image.seed == 1234
    assert steps == [(step, 6) for step in range(1, 7)]
    received = comfy.prompts[-1]
    assert node_of(received, "KSampler")["seed"] == 1234
    assert node_of(received, "KSampler")["steps"] == 6
    assert (
        node_of(received, "EmptyLatentImage")["width"],
        node_of(received, "EmptyLatentImage")["height"],
    ) == (
        768,
        384,
    )


async def test_the_seed_decides_the_image(comfy: ComfyUIStandin) -> None:
    client = ComfyUIClient(comfy.url)
    [first] = await client.generate(request(seed=7))
    [again] = await client.generate(request(seed=7))
    [other] = await client.generate(request(seed=8))

    assert first.data == again.data
    assert other.data != first.data


async def test_large_images_come_back_whole(comfy: ComfyUIStandin) -> None:
    [image] = await ComfyUIClient(comfy.url).generate(request(width=2048, height=2048, steps=1))
    assert png_size(image.data) == (2048, 2048)


def test_fill_puts_the_texts_on_the_nodes_feeding_the_sampler_whatever_their_ids() -> None:
    default = load_workflow()
    # The same graph with other ids, the negative encoder listed first.
    renamed = {
        "neg": default["7"],
        "pos": default["6"],
        **{k: v for k, v in default.items() if k not in ("6", "7")},
    }
    renamed["3"] = {
        **default["3"],
        "inputs": {**default["3"]["inputs"], "positive": ["pos", 0], "negative": ["neg", 0]},
    }

    filled = fill(
        renamed,
        prompt="a red fox",
        negative_prompt="watermark",
        width=640,
        height=448,
        steps=12,
        seed=99,
        checkpoint=CHECKPOINT,
        cfg=5.5,
        sampler="dpmpp_2m",
    )

    assert filled["pos"]["inputs"]["text"] == "a red fox"
    assert filled["neg"]["inputs"]["text"] == "watermark"
    sampler = filled["3"]["inputs"]
    assert (sampler["seed"], sampler["steps"], sampler["cfg"], sampler["sampler_name"]) == (
        99,
        12,
        5.5,
        "dpmpp_2m",
    )
    assert (filled["5"]["inputs"]["width"], filled["5"]["inputs"]["height"]) == (640, 448)
    assert filled["4"]["inputs"]["ckpt_name"] == CHECKPOINT
    # The caller's workflow is left as it was.
    assert renamed["pos"]["inputs"]["text"] == default["6"]["inputs"]["text"]


def test_fill_says_what_a_workflow_lacks() -> None:
    values: dict[str, Any] = {
        "prompt": "x",
        "negative_prompt": "",
        "width": 512,
        "height": 512,
        "steps": 4,
        "seed": 1,
    }
    no_sampler = {k: v for k, v in load_workflow().items() if v["class_type"] != "KSampler"}
    with pytest.raises(WorkflowError, match="no KSampler"):
        fill(no_sampler, **values)

    rewired = load_workflow()
    rewired["3"]["inputs"]["latent_image"] = ["4", 0]
    with pytest.raises(WorkflowError, match=r"latent_image.*CheckpointLoaderSimple"):
        fill(rewired, **values)

    with pytest.raises(ValueError, match="multiple of 8"):
        fill(load_workflow(), **(values | {"width": 500}))
    with pytest.raises(WorkflowError, match="no bundled workflow"):
        load_workflow("no_such_workflow")


async def test_a_checkpoint_comfyui_lacks_is_a_400_naming_the_node(comfy: ComfyUIStandin) -> None:
    with pytest.raises(ComfyUIError) as caught:
        await ComfyUIClient(comfy.url).generate(request(checkpoint="missing.safetensors"))

    error = caught.value
    assert isinstance(error, BackendError)
    assert error.status == 400
    assert error.kind == "invalid_workflow"
    assert not error.retryable
    assert error.node_type == "CheckpointLoaderSimple"
    assert "ckpt_name: 'missing.safetensors' not in" in str(error)


async def test_an_unknown_node_class_is_a_400(comfy: ComfyUIStandin) -> None:
    workflow = request()
    workflow["10"] = {"class_type": "UpscaleWithMagic", "inputs": {}}
    with pytest.raises(ComfyUIError, match="node UpscaleWithMagic does not exist") as caught:
        await ComfyUIClient(comfy.url).generate(workflow)
    assert caught.value.status == 400


async def test_a_node_failing_while_running_is_a_502_with_comfyuis_message(comfy: ComfyUIStandin) -> None:
    client = ComfyUIClient(comfy.url)
    comfy.fail_next_prompt("Allocation on device")

    with pytest.raises(ComfyUIError, match="Allocation on device") as caught:
        await client.generate(request())
    assert caught.value.status == 502
    assert caught.value.kind == "execution_error"
    assert caught.value.node_type == "KSampler"

    # Only that prompt failed.
    assert len(await client.generate(request())) == 1


async def test_a_socket_that_closes_early_falls_back_to_the_history(comfy: ComfyUIStandin) -> None:
    comfy.drop_socket_after_queue = True
    comfy.step_delay_s = 0.01
    [image] = await ComfyUIClient(comfy.url).generate(request(width=256, height=128, steps=10))
    assert png_size(image.data) == (256, 128)


async def test_interrupting_a_run_fails_it(comfy: ComfyUIStandin) -> None:
    comfy.step_delay_s = 0.05
    client = ComfyUIClient(comfy.url)
    started = asyncio.Event()
    run = asyncio.create_task(
        client.generate(request(steps=1000), on_progress=lambda value, top: started.set())
    )
    await started.wait()
    await client.interrupt()

    with pytest.raises(ComfyUIError) as caught:
        await run
    assert caught.value.kind == "interrupted"
    assert await client.queue_remaining() == 0


async def test_a_dead_port_is_unreachable() -> None:
    client = ComfyUIClient(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(ComfyUIError) as caught:
        await client.generate(request())
    assert (caught.value.status, caught.value.kind, caught.value.retryable) == (502, "unreachable", True)
    with pytest.raises(ComfyUIError, match="unreachable"):
        await client.checkpoints()
    healthy, detail = await client.health()
    assert not healthy and "unreachable" in detail


async def test_vram_drops_while_a_checkpoint_is_loaded_and_returns_after_free(comfy: ComfyUIStandin) -> None:
    client = ComfyUIClient(comfy.url)
    assert await client.checkpoints() == [CHECKPOINT]
    healthy, detail = await client.health()
    assert healthy and "RTX 4090" in detail

    idle = await client.vram()
    assert idle is not None and idle[0] == 24 * GiB
    await client.generate(request())
    loaded = await client.vram()
    assert loaded is not None and loaded[1] <= idle[1] - 6 * GiB

    await client.free()
    freed = await client.vram()
    assert freed == idle
