"""No usable GPU: local models run from system RAM."""

from __future__ import annotations

import psutil

from roundhouse.daemon.residency.readers.base import MachineReading, Source, explain


class SystemMemoryReader:
    source: Source = "cpu"

    def __init__(self, fallback_reasons: list[str] | None = None) -> None:
        self.fallback_reasons = list(fallback_reasons or [])

    def read(self) -> MachineReading:
        memory = psutil.virtual_memory()
        detail = explain("CPU only: models run from system RAM", self.fallback_reasons)
        return MachineReading(
            source="cpu",
            detail=detail,
            gpus=[],
            ram_total_bytes=memory.total,
            ram_available_bytes=memory.available,
            unified=True,
        )

    def close(self) -> None:
        return None
