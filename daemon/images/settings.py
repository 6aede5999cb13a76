"""Image generation: where ComfyUI is, what a request gets by default, when the cloud may draw."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def parse_size(value: str) -> tuple[int, int]:
    match = SIZE.match(value.strip().lower())
    if match is None:
        raise ValueError(f"a size is WIDTHxHEIGHT, e.g. 1024x1024, not {value!r}")
    return int(match[1]), int(match[2])


class ImagesSettings(BaseModel):
    enabled: bool = True
    # ComfyUI's address. Unset: one on 127.0.0.1:8188 is used when it answers.
    comfyui_url: str | None = None
    discover_local: bool = True
    local_url: str = "http://127.0.0.1:8188"
    # A workflow of resources/workflows/ in ComfyUI's API format, and what fills it by default.
    workflow: str = "text_to_image"
    checkpoint: str | None = None  # unset: the first checkpoint ComfyUI lists
    steps: int = Field(default=20, ge=1, le=200)
    size: str = "1024x1024"
    negative_prompt: str = "blurry, low quality, deformed"
    # GPU memory one image job needs; text models make room for it while it runs.
    vram_gb: float = Field(default=6.0, ge=0)
    # ComfyUI is asked to unload its models after this long without an image job (-1: never).
    release_after_s: float = 300.0
    # "local": ComfyUI only; "auto": ComfyUI, the cloud model when ComfyUI is not reachable;
    # "cloud": the cloud model first. A private prompt never leaves the machine.
    mode: Literal["local", "auto", "cloud"] = "local"
    cloud_model: str = "openai/gpt-image-1"
    cloud_quality: Literal["low", "medium", "high"] = "medium"
    max_n: int = Field(default=4, ge=1, le=10)
    timeout_s: float = Field(default=600.0, gt=0)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        parse_size(value)
        return value
