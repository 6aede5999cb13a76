"""POST /v1/images/generations end to end: the official openai SDK against the daemon, a ComfyUI
stand-in speaking ComfyUI's wire format, and an OpenAI stand-in as the cloud image model."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from roundhouse.daemon.secrets import Secrets
from tests.conftest import RunningDaemon, keyring_or_skip
from tests.standins.comfyui_server import ComfyUIStandin
from tests.standins.openai_server import OpenAIStandin


@pytest.fixture
def comfyui() -> Iterator[ComfyUIStandin]:
    with ComfyUIStandin() as standin:
        yield standin


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _daemon(
    start_daemon: Any, comfyui_url: str | None, *, cloud: dict[str, Any] | None = None, **images: Any
) -> RunningDaemon:
    settings: dict[str, Any] = {"cloud": cloud} if cloud is not None else {}
    rh: RunningDaemon = start_daemon(
        images={"comfyui_url": comfyui_url, "discover_local": False, **images},
        embedded={"enabled": False},
        **settings,
    )
    return rh


def _client(rh: RunningDaemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=rh.url + "/v1", api_key="unused", max_retries=0)


def _cloud(openai_standin: OpenAIStandin, secrets: Secrets) -> dict[str, Any]:
    keyring_or_skip(secrets)
    secrets.set("openai", "sk-test-images")
    return {"api_base": {"openai": openai_standin.url}}


@pytest.mark.compat(client="openai (Python)", feature="images")
def test_an_image_is_drawn_by_comfyui_with_the_request_s_values(
    start_daemon: Any, comfyui: ComfyUIStandin
) -> None:
    rh = _daemon(start_daemon, comfyui.url)
    result = _client(rh).images.generate(
        model="comfyui", prompt="a red bicycle on a beach", size="512x384", n=2, response_format="b64_json"
    )
    pngs = [base64.b64decode(item.b64_json or "") for item in result.data]
    assert [_size(p) for p in pngs] == [(512, 384), (512, 384)]
    assert pngs[0] != pngs[1]  # two seeds

    sent = comfyui.prompts
    assert len(sent) == 2
    texts = {n["inputs"]["text"] for n in sent[0].values() if n["class_type"] == "CLIPTextEncode"}
    assert "a red bicycle on a beach" in texts and "blurry, low quality, deformed" in texts
    sampler = next(n["inputs"] for n in sent[0].values() if n["class_type"] == "KSampler")
    assert sampler["steps"] == 20
    loader = next(n["inputs"] for n in sent[0].values() if n["class_type"] == "CheckpointLoaderSimple")
    assert loader["ckpt_name"] == "sd_xl_base_1.0.safetensors"

    row = rh.rows("SELECT * FROM requests WHERE endpoint = 'images'")[0]
    assert row["backend"] == "comfyui" and row["images"] == 2 and row["cost_usd"] == 0
    assert row["model_used"] == "comfyui/sd_xl_base_1.0.safetensors" and row["status"] == 200


def test_an_answer_as_a_url_serves_the_png_and_the_seed_is_kept(
    start_daemon: Any, comfyui: ComfyUIStandin
) -> None:
    rh = _daemon(start_daemon, comfyui.url)
    body = {"prompt": "a lighthouse", "size": "256x256", "response_format": "url", "seed": 42, "steps": 8}
    first = httpx.post(rh.url + "/v1/images/generations", json=body, timeout=60).json()
    again = httpx.post(rh.url + "/v1/images/generations", json=body, timeout=60).json()
    url = first["data"][0]["url"]
    assert url.startswith(rh.url + "/v1/images/files/img-")
    png = httpx.get(url, timeout=30)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert _size(png.content) == (256, 256)
    assert httpx.get(again["data"][0]["url"], timeout=30).content == png.content  # same seed, same image
    assert httpx.get(rh.url + "/v1/images/files/img-nosuch", timeout=30).status_code == 404


def test_the_caller_s_mistakes_are_4xx_in_openai_s_shape(start_daemon: Any, comfyui: ComfyUIStandin) -> None:
    rh = _daemon(start_daemon, comfyui.url)
    client = _client(rh)
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(prompt="x", size="huge")  # type: ignore[arg-type]
    assert "size" in str(bad_size.value)
    with pytest.raises(openai.BadRequestError):
        client.images.generate(prompt="x", n=9)
    with pytest.raises(openai.NotFoundError) as unknown:
        client.images.generate(prompt="x", model="no-such-painter")
    assert "no-such-painter" in str(unknown.value)
    empty = httpx.post(rh.url + "/v1/images/generations", json={"prompt": ""}, timeout=30)
    assert empty.status_code == 400 and empty.json()["error"]["param"] in ("prompt", "body.prompt", None)
    assert not comfyui.prompts


def test_a_cloud_image_model_is_priced_and_counted_in_the_budget(
    start_daemon: Any, comfyui: ComfyUIStandin, openai_standin: OpenAIStandin, test_secrets: Secrets
) -> None:
    rh = _daemon(start_daemon, comfyui.url, cloud=_cloud(openai_standin, test_secrets))
    result = _client(rh).images.generate(
        model="openai/gpt-image-1", prompt="a watercolour fox", size="1024x1024"
    )
    assert _size(base64.b64decode(result.data[0].b64_json or ""))[0] == 8
    assert openai_standin.requests[-1]["prompt"] == "a watercolour fox"
    assert openai_standin.auth_headers[-1] == "Bearer sk-test-images"
    row = rh.rows("SELECT * FROM requests WHERE endpoint = 'images'")[0]
    assert row["backend"] == "cloud" and row["model_used"] == "openai/gpt-image-1"
    assert row["cost_usd"] == pytest.approx(0.042)  # litellm's price: medium, 1024x1024
    spent = httpx.get(rh.url + "/control/v1/spend", timeout=30).json()
    assert json.dumps(spent).count("0.042") >= 1
    assert "sk-test-images" not in json.dumps(rh.rows())


def test_a_private_prompt_is_drawn_here_even_when_a_cloud_model_is_asked_for(
    start_daemon: Any, comfyui: ComfyUIStandin, openai_standin: OpenAIStandin, test_secrets: Secrets
) -> None:
    rh = _daemon(start_daemon, comfyui.url, cloud=_cloud(openai_standin, test_secrets))
    prompt = "a birthday card for jane.doe@example.com, card number 4111 1111 1111 1111"
    answer = httpx.post(
        rh.url + "/v1/images/generations", json={"prompt": prompt, "model": "openai/gpt-image-1"}, timeout=60
    )
    assert answer.status_code == 200
    assert answer.headers["x-roundhouse-route-backend"] == "comfyui"
    assert "private" in answer.headers["x-roundhouse-route-reasons"]
    assert not openai_standin.requests
    recent = httpx.get(rh.url + "/control/v1/images/recent", timeout=30).json()["images"]
    assert recent == []  # a private prompt's image is not in the dataset


def test_mode_auto_draws_in_the_cloud_when_comfyui_is_down_but_a_private_prompt_gets_a_503(
    start_daemon: Any, openai_standin: OpenAIStandin, test_secrets: Secrets
) -> None:
    down = ComfyUIStandin().start()
    url = down.url
    down.stop()
    rh = _daemon(start_daemon, url, cloud=_cloud(openai_standin, test_secrets), mode="auto")
    answer = httpx.post(rh.url + "/v1/images/generations", json={"prompt": "a teapot"}, timeout=60)
    assert answer.status_code == 200 and answer.headers["x-roundhouse-route-backend"] == "cloud"
    assert "ComfyUI not reachable" in answer.headers["x-roundhouse-route-reasons"]
    private = httpx.post(
        rh.url + "/v1/images/generations", json={"prompt": "my SSN is 123-45-6789, draw it"}, timeout=60
    )
    assert private.status_code == 503
    assert "stays on this machine" in private.json()["error"]["message"]
    named = httpx.post(
        rh.url + "/v1/images/generations", json={"prompt": "a teapot", "model": "comfyui"}, timeout=60
    )
    assert named.status_code == 503  # ComfyUI asked for by name is never swapped for the cloud
    assert len(openai_standin.requests) == 1


def test_an_image_job_keeps_gpu_room_and_ratings_build_an_exportable_dataset(
    start_daemon: Any, comfyui: ComfyUIStandin
) -> None:
    rh = _daemon(start_daemon, comfyui.url)
    drawn = httpx.post(
        rh.url + "/v1/images/generations",
        json={"prompt": "product shot of a watch", "size": "256x256"},
        timeout=60,
    )
    assert drawn.status_code == 200
    kinds = [e.kind for e in rh.daemon.events.recent()]
    reserve = next(e for e in rh.daemon.events.recent() if e.kind == "residency.reserve")
    assert reserve.data["holder"] == "comfyui" and reserve.data["bytes"] > 0, kinds

    status = httpx.get(rh.url + "/control/v1/images", timeout=30).json()
    assert status["comfyui"]["up"] and status["comfyui"]["checkpoints"] == ["sd_xl_base_1.0.safetensors"]
    assert status["comfyui"]["vram_total_bytes"] == comfyui.vram_total
    recent = httpx.get(rh.url + "/control/v1/images/recent", timeout=30).json()["images"]
    assert [r["prompt"] for r in recent] == ["product shot of a watch"]
    image_id = recent[0]["id"]
    assert (
        httpx.post(
            rh.url + f"/control/v1/images/{image_id}/rating", json={"score": 9}, timeout=30
        ).status_code
        == 400
    )
    rated = httpx.post(rh.url + f"/control/v1/images/{image_id}/rating", json={"score": 5}, timeout=30)
    assert rated.status_code == 200 and rated.json()["image"]["score"] == 5

    export = httpx.get(rh.url + "/control/v1/images/export", timeout=30)
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    rows = [json.loads(line) for line in archive.read("dataset.jsonl").decode().splitlines()]
    assert (
        rows[0]["prompt"] == "product shot of a watch"
        and rows[0]["score"] == 5
        and rows[0]["seed"] is not None
    )
    assert _size(archive.read(rows[0]["image"])) == (256, 256)


def test_once_the_budget_is_spent_a_cloud_image_is_drawn_here_instead(
    start_daemon: Any, comfyui: ComfyUIStandin, openai_standin: OpenAIStandin, test_secrets: Secrets
) -> None:
    rh: RunningDaemon = start_daemon(
        images={"comfyui_url": comfyui.url, "discover_local": False},
        cloud=_cloud(openai_standin, test_secrets),
        spend={"budget": {"daily_usd": 0.05}, "refresh_s": 0},
        embedded={"enabled": False},
    )
    body = {"prompt": "a watercolour fox", "model": "openai/gpt-image-1", "size": "1024x1024"}
    first = httpx.post(rh.url + "/v1/images/generations", json=body, timeout=60)
    assert first.headers["x-roundhouse-route-backend"] == "cloud"  # $0.042 of the $0.05
    second = httpx.post(rh.url + "/v1/images/generations", json=body, timeout=60)
    assert second.headers["x-roundhouse-route-backend"] == "cloud"  # $0.084: now over
    third = httpx.post(rh.url + "/v1/images/generations", json=body, timeout=60)
    assert third.status_code == 200 and third.headers["x-roundhouse-route-backend"] == "comfyui"
    assert "not the cloud" in third.headers["x-roundhouse-route-reasons"]
    assert len(openai_standin.requests) == 2


def test_private_by_name_or_policy_stays_here_and_out_of_the_dataset(
    start_daemon: Any, comfyui: ComfyUIStandin, openai_standin: OpenAIStandin, test_secrets: Secrets
) -> None:
    rh: RunningDaemon = start_daemon(
        images={"comfyui_url": comfyui.url, "discover_local": False, "mode": "cloud"},
        cloud=_cloud(openai_standin, test_secrets),
        routing={"mode": "local"},
        embedded={"enabled": False},
    )
    policy = httpx.post(rh.url + "/v1/images/generations", json={"prompt": "a kite"}, timeout=60)
    assert policy.headers["x-roundhouse-route-backend"] == "comfyui"
    assert "routing mode is local only" in policy.headers["x-roundhouse-route-reasons"]
    named = httpx.post(
        rh.url + "/v1/images/generations", json={"prompt": "my diary", "model": "private"}, timeout=60
    )
    assert named.status_code == 200 and "'private' asked" in named.headers["x-roundhouse-route-reasons"]
    prompts = [
        r["prompt"] for r in httpx.get(rh.url + "/control/v1/images/recent", timeout=30).json()["images"]
    ]
    assert prompts == ["a kite"] and not openai_standin.requests
