"""What a reading of the machine's accelerator memory looks like, whatever its source."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Source = Literal["nvml", "amd-sysfs", "apple-unified", "cpu"]


class ReaderUnavailable(Exception):
    """This source cannot be read here; the message says why, for the status page."""


@dataclass(slots=True)
class ProcessUsage:
    pid: int
    # None where the platform does not report it (Windows WDDM).
    used_bytes: int | None
    name: str = ""


@dataclass(slots=True)
class GpuReading:
    index: int
    name: str
    total_bytes: int
    free_bytes: int
    used_bytes: int
    reserved_bytes: int = 0
    utilization_pct: int | None = None
    processes: list[ProcessUsage] = field(default_factory=list)


@dataclass(slots=True)
class MachineReading:
    source: Source
    # One line on where the figures come from and why (e.g. "NVML: driver not loaded; ...").
    detail: str
    gpus: list[GpuReading]
    ram_total_bytes: int
    ram_available_bytes: int
    driver: str | None = None
    # Models run from memory shared with the CPU (Apple Silicon, or no GPU at all).
    unified: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(g.total_bytes for g in self.gpus) if self.gpus else self.ram_total_bytes

    @property
    def free_bytes(self) -> int:
        return sum(g.free_bytes for g in self.gpus) if self.gpus else self.ram_available_bytes

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_bytes"] = self.total_bytes
        data["free_bytes"] = self.free_bytes
        return data


class Reader(Protocol):
    source: Source
    # Why the sources tried before this one were not used.
    fallback_reasons: list[str]

    def read(self) -> MachineReading: ...

    def close(self) -> None: ...


def explain(detail: str, fallback_reasons: list[str]) -> str:
    """The reading's own detail plus why the sources before it were passed over."""
    return detail + (f" ({'; '.join(fallback_reasons)})" if fallback_reasons else "")
