"""Settings → Images: ComfyUI's state in words, the images drawn here with their thumbnails and
prompts, a rating that the daemon keeps, new images as they are drawn, and the dataset saved."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtGui import QImage

from roundhouse.desktop.windows.images_page import THUMBNAIL, ImagesPage
from tests.desktop.conftest import DaemonProcess, Desktop, save_screenshot
from tests.standins.comfyui_server import ComfyUIStandin
from tests.standins.runner import free_port

GiB = 1024**3
RECENT = "/control/v1/images/recent"
PROMPTS = ["a red bicycle on a beach", "a lighthouse at dusk"]


def status(**comfyui: Any) -> dict[str, Any]:
    base = {
        "url": "http://127.0.0.1:8188",
        "up": True,
        "detail": "",
        "vram_total_bytes": 24 * GiB,
        "vram_free_bytes": 18 * GiB,
        "checkpoints": ["sd_xl_base_1.0.safetensors"],
    }
    return {
        "enabled": True,
        "mode": "local",
        "comfyui": {**base, **comfyui},
        "cloud_model": "openai/gpt-image-1",
        "drawn": 0,
        "dataset": {"total": 3, "rated": 1, "trainer": 1},
    }


def image(image_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": image_id,
        "ts": 1.0,
        "source": "request",
        "prompt": "a fox",
        "negative_prompt": "blurry",
        "model": "comfyui/sd_xl_base_1.0.safetensors",
        "seed": 42,
        "steps": 20,
        "width": 512,
        "height": 512,
        "score": None,
        "variant_of": None,
        "url": f"/v1/images/files/{image_id}",
    }
    return {**base, **fields}


def checked(page: ImagesPage, image_id: str) -> list[int]:
    return [score for score, b in page.cards[image_id].buttons.items() if b.isChecked()]


@pytest.fixture
def comfyui() -> Iterator[ComfyUIStandin]:
    with ComfyUIStandin() as standin:
        yield standin


@pytest.fixture
def drawing_daemon(
    desktop: Desktop, comfyui: ComfyUIStandin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    env = {
        "ROUNDHOUSE_IMAGES__COMFYUI_URL": comfyui.url,
        "ROUNDHOUSE_IMAGES__DISCOVER_LOCAL": "false",
        "ROUNDHOUSE_IMAGES__VRAM_GB": "0",
        "ROUNDHOUSE_EMBEDDED__ENABLED": "false",
        "ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false",
    }
    running = DaemonProcess(tmp_path_factory.mktemp("images-daemon-home"), env).start()
    yield running
    running.stop()


def draw(daemon: DaemonProcess, prompt: str) -> None:
    answer = httpx.post(
        f"{daemon.url}/v1/images/generations",
        json={"prompt": prompt, "size": "256x192", "seed": 7, "steps": 12},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


def test_the_page_says_when_comfyui_is_down_or_nothing_was_drawn(qtbot: Any, make_controller: Any) -> None:
    # No daemon here: the page is fed what the control API answers.
    page = ImagesPage(make_controller(f"http://127.0.0.1:{free_port()}"))
    qtbot.addWidget(page)
    assert page.grid.isHidden() and "No images yet" in page.empty.text()

    page.show_status(status(up=False, detail="connection refused", vram_total_bytes=None, checkpoints=[]))
    text = page.comfyui.text()
    assert (
        "not reachable at http://127.0.0.1:8188 (connection refused)" in text and "can still be rated" in text
    )
    page.show_status({**status(up=False), "mode": "auto"})
    assert "go to openai/gpt-image-1 instead" in page.comfyui.text()
    page.show_status({**status(), "enabled": False})
    assert "Image generation is off" in page.comfyui.text()

    page.show_status(status())
    assert page.comfyui.text() == (
        "ComfyUI is up at http://127.0.0.1:8188: 18.0 GB VRAM free of 24.0 GB, "
        "checkpoint sd_xl_base_1.0.safetensors."
    )
    assert page.dataset.text() == "Dataset: 3 images, 1 rated, 1 drawn by the image trainer."

    page.show_images(
        {
            "images": [
                image("img-a", score=4),
                image("img-b", source="trainer", variant_of="img-a", steps=30, negative_prompt=""),
            ]
        }
    )
    assert not page.grid.isHidden() and page.empty.isHidden()
    first, variant = page.cards["img-a"], page.cards["img-b"]
    assert first.prompt.text() == "a fox" and first.details.text() == "20 steps · seed 42 · 512×512"
    assert first.badge.isHidden() and "blurry" in first.prompt.toolTip()
    assert not variant.badge.isHidden() and "img-a" in variant.badge.toolTip()
    assert checked(page, "img-a") == [4] and checked(page, "img-b") == []

    page.show_images({"images": []})
    assert page.grid.isHidden() and not page.empty.isHidden()


def test_images_are_listed_rated_and_exported_against_a_real_daemon(
    qtbot: Any, drawing_daemon: DaemonProcess, make_controller: Any, tmp_path: Path, artifacts: Path
) -> None:
    for prompt in PROMPTS:
        draw(drawing_daemon, prompt)
    listed = drawing_daemon.get(RECENT)["images"]
    controller = make_controller(drawing_daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    page = controller.open_settings("images").pages["images"]
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=20_000)
    assert {c.prompt.text() for c in page.cards.values()} == set(PROMPTS)
    assert all(c.details.text() == "12 steps · seed 7 · 256×192" for c in page.cards.values())
    assert "ComfyUI is up" in page.comfyui.text() and "sd_xl_base_1.0.safetensors" in page.comfyui.text()
    assert page.empty.isHidden()

    def thumbnails_shown() -> bool:
        pixmaps = [c.picture.pixmap() for c in page.cards.values()]
        return all(p is not None and not p.isNull() for p in pixmaps)

    qtbot.waitUntil(thumbnails_shown, timeout=20_000)
    shown = page.cards[listed[0]["id"]].picture.pixmap()
    assert (shown.width(), shown.height()) == (THUMBNAIL, THUMBNAIL * 192 // 256)
    save_screenshot(page.window(), artifacts, "settings-images")

    target = listed[1]["id"]
    page.cards[target].buttons[4].click()
    qtbot.waitUntil(lambda: "Rated it 4 of 5" in page.status.text(), timeout=15_000)
    scores = {i["id"]: i["score"] for i in drawing_daemon.get(RECENT)["images"]}
    assert scores == {listed[0]["id"]: None, target: 4}
    assert checked(page, target) == [4]
    qtbot.waitUntil(lambda: "2 images, 1 rated" in page.dataset.text(), timeout=15_000)

    # An image drawn while the page is open shows up on its own.
    draw(drawing_daemon, "a teapot in the snow")
    qtbot.waitUntil(lambda: len(page.cards) == 3, timeout=20_000)
    assert checked(page, target) == [4]

    saved = tmp_path / "out" / "dataset.zip"
    saved.parent.mkdir()
    page.save_export(saved)
    qtbot.waitUntil(lambda: "Saved the dataset" in page.status.text(), timeout=30_000)
    archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    rows = [json.loads(line) for line in archive.read("dataset.jsonl").decode().splitlines()]
    assert sorted(r["prompt"] for r in rows) == sorted([*PROMPTS, "a teapot in the snow"])
    assert next(r["score"] for r in rows if r["id"] == target) == 4
    assert all(not QImage.fromData(archive.read(r["image"]), "PNG").isNull() for r in rows)
