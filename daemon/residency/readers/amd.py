"""AMD GPUs on Linux, read from the amdgpu driver's sysfs files."""

from __future__ import annotations

from pathlib import Path

import psutil

from roundhouse.daemon.residency.readers.base import (
    GpuReading,
    MachineReading,
    ReaderUnavailable,
    Source,
    explain,
)

DRM_ROOT = Path("/sys/class/drm")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class AmdSysfsReader:
    source: Source = "amd-sysfs"

    def __init__(self, root: Path = DRM_ROOT, fallback_reasons: list[str] | None = None) -> None:
        self.root = root
        self.fallback_reasons = list(fallback_reasons or [])
        if not self._cards():
            raise ReaderUnavailable(f"AMD sysfs: no {root}/card*/device/mem_info_vram_total")

    def _cards(self) -> list[Path]:
        devices = sorted(p.parent for p in self.root.glob("card*/device/mem_info_vram_total"))
        return [d for d in devices if (_read_int(d / "mem_info_vram_total") or 0) > 0]

    def read(self) -> MachineReading:
        gpus: list[GpuReading] = []
        for index, device in enumerate(self._cards()):
            total = _read_int(device / "mem_info_vram_total") or 0
            used = min(total, _read_int(device / "mem_info_vram_used") or 0)
            name_file = device / "product_name"
            name = name_file.read_text().strip() if name_file.exists() else f"AMD GPU ({device.parent.name})"
            gpus.append(
                GpuReading(
                    index=index,
                    name=name,
                    total_bytes=total,
                    free_bytes=total - used,
                    used_bytes=used,
                    utilization_pct=_read_int(device / "gpu_busy_percent"),
                )
            )
        memory = psutil.virtual_memory()
        return MachineReading(
            source="amd-sysfs",
            detail=explain(
                "AMD sysfs: mem_info_vram_total/used, no per-process figures", self.fallback_reasons
            ),
            gpus=gpus,
            ram_total_bytes=memory.total,
            ram_available_bytes=memory.available,
        )

    def close(self) -> None:
        return None
