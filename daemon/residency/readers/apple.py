"""Apple Silicon: the GPU works from unified memory, up to a share of system RAM."""

from __future__ import annotations

import platform

import psutil

from roundhouse.daemon.residency.readers.base import (
    GpuReading,
    MachineReading,
    ReaderUnavailable,
    Source,
    explain,
)

# Metal's recommended working set is about three quarters of RAM on most Apple Silicon Macs.
DEFAULT_GPU_SHARE = 0.75


class AppleUnifiedReader:
    source: Source = "apple-unified"

    def __init__(
        self, gpu_share: float = DEFAULT_GPU_SHARE, fallback_reasons: list[str] | None = None
    ) -> None:
        if platform.system() != "Darwin" or platform.machine() != "arm64":
            raise ReaderUnavailable("Apple unified memory: not an Apple Silicon Mac")
        self.gpu_share = gpu_share
        self.fallback_reasons = list(fallback_reasons or [])

    def read(self) -> MachineReading:
        memory = psutil.virtual_memory()
        total = int(memory.total * self.gpu_share)
        used = min(total, memory.total - memory.available)
        gpu = GpuReading(
            index=0,
            name=f"Apple {platform.processor() or 'Silicon'} (unified memory)",
            total_bytes=total,
            free_bytes=total - used,
            used_bytes=used,
        )
        return MachineReading(
            source="apple-unified",
            detail=explain(
                f"Apple unified memory: GPU may use {self.gpu_share:.0%} of RAM", self.fallback_reasons
            ),
            gpus=[gpu],
            ram_total_bytes=memory.total,
            ram_available_bytes=memory.available,
            unified=True,
        )

    def close(self) -> None:
        return None
