"""A real Open WebUI's image generation pointed at Roundhouse: its "Open AI" image engine with
Roundhouse as the base URL draws through ComfyUI (a stand-in speaking ComfyUI's wire format)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.e2e import openwebui_server
from tests.e2e.openwebui_server import OpenWebUI
from tests.standins.comfyui_server import ComfyUIStandin

openwebui = openwebui_server.openwebui  # the session-wide Open WebUI fixture


@pytest.fixture
def comfyui() -> Iterator[ComfyUIStandin]:
    with ComfyUIStandin() as standin:
        yield standin


@pytest.mark.compat(client="Open WebUI", feature="image generation")
def test_open_webui_draws_its_images_through_roundhouse(
    openwebui: OpenWebUI, start_daemon: Any, comfyui: ComfyUIStandin
) -> None:
    rh: RunningDaemon = start_daemon(
        images={"comfyui_url": comfyui.url, "discover_local": False}, embedded={"enabled": False}
    )
    admin = {"Authorization": f"Bearer {openwebui.ada_key}"}
    config = httpx.get(f"{openwebui.url}/api/v1/images/config", headers=admin, timeout=30)
    assert config.status_code == 200, config.text
    settings = config.json()
    settings.update(
        {
            "ENABLE_IMAGE_GENERATION": True,
            "IMAGE_GENERATION_ENGINE": "openai",
            "IMAGE_GENERATION_MODEL": "comfyui",
            "IMAGE_SIZE": "512x512",
            "IMAGE_STEPS": 12,
            "IMAGES_OPENAI_API_BASE_URL": rh.url + "/v1",
            "IMAGES_OPENAI_API_KEY": "unused-on-loopback",
        }
    )
    updated = httpx.post(
        f"{openwebui.url}/api/v1/images/config/update", json=settings, headers=admin, timeout=30
    )
    assert updated.status_code == 200, updated.text

    drawn = httpx.post(
        f"{openwebui.url}/api/v1/images/generations",
        json={"prompt": "a paper boat on a pond"},
        headers=admin,
        timeout=120,
    )
    assert drawn.status_code == 200, drawn.text
    files = drawn.json()
    assert len(files) == 1 and files[0]["url"]

    # Open WebUI stored the PNG Roundhouse gave it; it serves the same bytes ComfyUI drew.
    stored = httpx.get(openwebui.url + files[0]["url"], headers=admin, timeout=30)
    assert stored.status_code == 200 and stored.content[:8] == b"\x89PNG\r\n\x1a\n"
    texts = {n["inputs"]["text"] for n in comfyui.prompts[-1].values() if n["class_type"] == "CLIPTextEncode"}
    assert "a paper boat on a pond" in texts
    row = rh.rows("SELECT * FROM requests WHERE endpoint = 'images'")[-1]
    assert row["backend"] == "comfyui" and row["images"] == 1 and row["status"] == 200
