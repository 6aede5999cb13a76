"""Settings of the residency component (the [residency] table of config.toml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ResidencySettings(BaseModel):
    enabled: bool = True
    # Where GPU figures come from; "auto" tries NVML, AMD sysfs, Apple unified memory, then RAM.
    source: Literal["auto", "nvml", "amd-sysfs", "apple-unified", "cpu"] = "auto"
    # Most GPU memory Roundhouse's models may hold, in GB (None: all there is).
    vram_budget_gb: float | None = Field(default=None, gt=0)
    # Always leave this much GPU memory free for other apps, in GB.
    headroom_gb: float = Field(default=1.0, ge=0)
    # Allow a model that does not fit to load partly in system RAM (slow); off by default.
    allow_cpu_spill: bool = False
    # Models never evicted, and preloaded when the GPU is idle (ids such as "ollama/llama3.1:8b").
    pinned: list[str] = Field(default_factory=list)
    max_loaded: int | None = Field(default=None, ge=1)
    # The one set of runner options each model is loaded with; requests cannot change them.
    context_length: int = Field(default=4096, ge=256)
    parallel: int = Field(default=1, ge=1)
    model_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Bytes per KV-cache element: 2 for f16, about 1.06 for q8_0.
    kv_bytes_per_element: float = Field(default=2.0, gt=0)
    # Ollama keeps a model this long after our last request; Roundhouse unloads earlier itself.
    keep_alive: str = "1h"
    reconcile_interval_s: float = Field(default=5.0, gt=0)
    preload: bool = True
    # Policy knobs (see residency/policy.py).
    dwell_factor: float = Field(default=25.0, ge=0)
    dwell_idle_factor: float = Field(default=6.0, ge=0)
    max_wait_s: float = Field(default=120.0, gt=0)
    urgent_max_wait_s: float = Field(default=2.0, ge=0)
    idle_rent_ratio: float = Field(default=120.0, gt=0)
    release_idle: bool = False
    # A model just handed to a request stays protected this long even without `hold()`.
    ensure_grace_s: float = Field(default=15.0, ge=0)
    apple_gpu_share: float = Field(default=0.75, gt=0, le=1)
