"""Pick the best source of GPU figures on this machine, remembering why others were passed over."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from roundhouse.daemon.residency.readers.amd import DRM_ROOT, AmdSysfsReader
from roundhouse.daemon.residency.readers.apple import DEFAULT_GPU_SHARE, AppleUnifiedReader
from roundhouse.daemon.residency.readers.base import Reader, ReaderUnavailable
from roundhouse.daemon.residency.readers.nvml import NvmlReader
from roundhouse.daemon.residency.readers.system import SystemMemoryReader

SourceChoice = Literal["auto", "nvml", "amd-sysfs", "apple-unified", "cpu"]


def detect_reader(
    source: SourceChoice = "auto", *, drm_root: Path = DRM_ROOT, apple_gpu_share: float = DEFAULT_GPU_SHARE
) -> Reader:
    """The first source that works, in the order NVML, AMD sysfs, Apple, system RAM.

    A forced `source` that does not work here still falls back to system RAM, and the
    reading's detail says why.
    """
    reasons: list[str] = []
    order: list[str] = ["nvml", "amd-sysfs", "apple-unified"] if source == "auto" else [source]
    for name in order:
        try:
            if name == "nvml":
                return NvmlReader(fallback_reasons=reasons)
            if name == "amd-sysfs":
                return AmdSysfsReader(drm_root, fallback_reasons=reasons)
            if name == "apple-unified":
                return AppleUnifiedReader(apple_gpu_share, fallback_reasons=reasons)
        except ReaderUnavailable as why:
            reasons.append(str(why))
    return SystemMemoryReader(fallback_reasons=reasons)
