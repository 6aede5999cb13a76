"""Where the daemon keeps its drawn images in the control API, and how the tray words their state."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from roundhouse.desktop.client import ControlClient

IMAGES = "/control/v1/images"
RECENT = f"{IMAGES}/recent"
EXPORT = f"{IMAGES}/export"
EXPORT_NAME = "roundhouse-images.zip"
SCORES = range(1, 6)
GiB = 1024**3


def rating_path(image_id: str) -> str:
    return f"{IMAGES}/{quote(image_id, safe='')}/rating"


def images_of(data: Any) -> list[dict[str, Any]]:
    rows = data.get("images") if isinstance(data, dict) else None
    return [r for r in rows if isinstance(r, dict) and r.get("id")] if isinstance(rows, list) else []


def score_of(image: dict[str, Any]) -> int | None:
    score = image.get("score")
    return None if score is None else round(float(score))


def _gib(value: Any) -> str:
    return f"{float(value) / GiB:.1f} GB"


def comfyui_text(status: dict[str, Any]) -> str:
    if not status.get("enabled", True):
        return "Image generation is off ([images] enabled = false in config.toml)."
    comfyui = status.get("comfyui") or {}
    where = f" at {comfyui['url']}" if comfyui.get("url") else ""
    if not comfyui.get("up"):
        detail = f" ({comfyui['detail']})" if comfyui.get("detail") else ""
        text = f"ComfyUI is not reachable{where}{detail}, so no new images are drawn here."
        if status.get("mode") in ("auto", "cloud"):
            text += f" Requests go to {status.get('cloud_model')} instead."
        return text + " Images already drawn can still be rated."
    total, free = comfyui.get("vram_total_bytes"), comfyui.get("vram_free_bytes")
    vram = "VRAM not reported" if total is None else f"{_gib(free or 0)} VRAM free of {_gib(total)}"
    checkpoints = [str(c) for c in comfyui.get("checkpoints") or []]
    models = "checkpoint " + ", ".join(checkpoints) if checkpoints else "no checkpoint installed"
    return f"ComfyUI is up{where}: {vram}, {models}."


def dataset_text(status: dict[str, Any]) -> str:
    counts = status.get("dataset") or {}
    total, rated, trainer = (int(counts.get(k) or 0) for k in ("total", "rated", "trainer"))
    return f"Dataset: {total} images, {rated} rated, {trainer} drawn by the image trainer."


def details_text(image: dict[str, Any]) -> str:
    parts = []
    if image.get("steps"):
        parts.append(f"{image['steps']} steps")
    if image.get("seed") is not None:
        parts.append(f"seed {image['seed']}")
    if image.get("width") and image.get("height"):
        parts.append(f"{image['width']}×{image['height']}")
    return " · ".join(parts)


async def read_bytes(client: ControlClient, path: str, *, timeout_s: float = 30.0) -> bytes:
    """A file the daemon serves (a PNG, the export zip), with the client's token and errors."""
    return await client.get_bytes(path, timeout_s=timeout_s)
