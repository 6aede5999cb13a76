"""The dashboard's Images panel in a real headless Chromium against a real daemon that draws on a
ComfyUI stand-in: the images show with their prompts, a rating sticks, and the export saves the
dataset. The daemon listens beyond loopback, so every call (the PNGs too) needs the token."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from roundhouse.daemon.tokens import Tokens
from tests.conftest import RunningDaemon
from tests.e2e.test_dashboard import browser  # noqa: F401  (the headless Chromium fixture)
from tests.standins.comfyui_server import ComfyUIStandin

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PROMPTS = ["a red bicycle on a beach", "a lighthouse at dusk"]
RECENT = "/control/v1/images/recent"
EXPORT = "/control/v1/images/export"


@pytest.fixture
def comfyui() -> Iterator[ComfyUIStandin]:
    with ComfyUIStandin() as standin:
        yield standin


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon], comfyui: ComfyUIStandin) -> RunningDaemon:
    return start_daemon(
        server={"host": "0.0.0.0"},
        images={"comfyui_url": comfyui.url, "discover_local": False, "vram_gb": 0},
        embedded={"enabled": False},
        residency={"enabled": False},
    )


def test_images_show_get_rated_and_export(
    rh: RunningDaemon,
    browser: webdriver.Chrome,  # noqa: F811
    tmp_path: Path,
) -> None:
    auth = {"authorization": "Bearer " + Tokens(rh.daemon.store).create("dashboard", "admin")}
    assert httpx.get(rh.url + RECENT, timeout=30).status_code == 401  # no token, no images
    for prompt in PROMPTS:
        drawn = httpx.post(
            rh.url + "/v1/images/generations",
            json={"prompt": prompt, "size": "256x192", "seed": 7, "steps": 12},
            headers=auth,
            timeout=60,
        )
        assert drawn.status_code == 200, drawn.text
    listed = httpx.get(rh.url + RECENT, headers=auth, timeout=30).json()["images"]
    assert sorted(i["prompt"] for i in listed) == sorted(PROMPTS)

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.get(rh.url + "/dashboard#token=" + auth["authorization"][7:])
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#images figure.image")) == 2)
    state = browser.find_element(By.ID, "images-state").text
    assert "ComfyUI: up" in state and "sd_xl_base_1.0.safetensors" in state and "24.0 GiB" in state
    assert "2 images, 0 rated" in browser.find_element(By.ID, "images-dataset").text

    for image in listed:
        card = browser.find_element(By.CSS_SELECTOR, f'#images figure[data-id="{image["id"]}"]')
        assert image["prompt"] in card.text and "12 steps" in card.text and "seed 7" in card.text
        # The thumbnail is the PNG itself, read with the token: loaded, at the image's shape.
        wait.until(
            lambda _d, card=card: card.find_element(By.TAG_NAME, "img").get_property("naturalWidth") == 256
        )
        assert card.find_element(By.TAG_NAME, "img").get_property("naturalHeight") == 192

    first = listed[0]["id"]
    card = browser.find_element(By.CSS_SELECTOR, f'#images figure[data-id="{first}"]')
    card.find_element(By.CSS_SELECTOR, 'button[data-score="4"]').click()
    wait.until(
        lambda d: (
            d.find_element(
                By.CSS_SELECTOR, f'#images figure[data-id="{first}"] button[data-score="4"]'
            ).get_attribute("aria-pressed")
            == "true"
        )
    )
    scores = {
        i["id"]: i["score"] for i in httpx.get(rh.url + RECENT, headers=auth, timeout=30).json()["images"]
    }
    assert scores == {first: 4, listed[1]["id"]: None}
    wait.until(lambda d: "1 rated" in d.find_element(By.ID, "images-dataset").text)

    link = browser.find_element(By.ID, "images-export")
    assert link.get_attribute("href") == rh.url + EXPORT
    link.click()
    saved = downloads / "roundhouse-images.zip"
    wait.until(lambda _d: saved.is_file() and zipfile.is_zipfile(saved))
    from_api = httpx.get(link.get_attribute("href") or "", headers=auth, timeout=30)
    assert from_api.status_code == 200 and from_api.headers["content-type"] == "application/zip"
    for archive in (zipfile.ZipFile(saved), zipfile.ZipFile(io.BytesIO(from_api.content))):
        rows = [json.loads(line) for line in archive.read("dataset.jsonl").decode().splitlines()]
        assert {r["id"]: r["score"] for r in rows} == scores
        assert all(archive.read(r["image"])[:4] == b"\x89PNG" for r in rows)


def test_without_comfyui_the_panel_says_so(
    start_daemon: Callable[..., RunningDaemon],
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    down = ComfyUIStandin().start()
    url = down.url
    down.stop()
    rh = start_daemon(
        images={"comfyui_url": url, "discover_local": False},
        embedded={"enabled": False},
        residency={"enabled": False},
    )
    browser.get(rh.url + "/dashboard")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: "ComfyUI: down" in d.find_element(By.ID, "images-state").text)
    assert url in browser.find_element(By.ID, "images-state").text
    assert "No images yet" in browser.find_element(By.ID, "images").text
