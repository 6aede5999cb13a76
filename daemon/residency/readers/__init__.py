"""Reading the machine: NVML first, then AMD sysfs, Apple unified memory, then system RAM."""

from roundhouse.daemon.residency.readers.base import (
    GpuReading,
    MachineReading,
    ProcessUsage,
    Reader,
    ReaderUnavailable,
)
from roundhouse.daemon.residency.readers.detect import detect_reader

__all__ = [
    "GpuReading",
    "MachineReading",
    "ProcessUsage",
    "Reader",
    "ReaderUnavailable",
    "detect_reader",
]
