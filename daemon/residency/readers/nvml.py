"""NVIDIA GPUs through NVML (the nvidia-ml-py binding, module `pynvml`)."""

from __future__ import annotations

import threading

import psutil
import pynvml

from roundhouse.daemon.residency.readers.base import (
    GpuReading,
    MachineReading,
    ProcessUsage,
    ReaderUnavailable,
    Source,
    explain,
)

_WHY = {
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND: "NVML: libnvidia-ml not found (no NVIDIA driver installed)",
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED: "NVML: driver not loaded",
    pynvml.NVML_ERROR_NO_PERMISSION: "NVML: no permission to query the GPU",
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH: "NVML: library and kernel driver versions differ (reboot?)",
}


def nvml_reason(error: pynvml.NVMLError) -> str:
    return _WHY.get(error.value, f"NVML: {error}")


def _process_name(pid: int) -> str:
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return ""


class NvmlReader:
    source: Source = "nvml"

    def __init__(self, fallback_reasons: list[str] | None = None) -> None:
        self.fallback_reasons = list(fallback_reasons or [])
        self._lock = threading.Lock()
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise ReaderUnavailable(nvml_reason(error)) from None
        try:
            self.driver: str | None = str(pynvml.nvmlSystemGetDriverVersion())
        except pynvml.NVMLError:
            self.driver = None
        self._open = True

    def read(self) -> MachineReading:
        with self._lock:
            if not self._open:
                raise ReaderUnavailable("NVML: reader closed")
            try:
                gpus = [self._read_gpu(i) for i in range(pynvml.nvmlDeviceGetCount())]
            except pynvml.NVMLError as error:  # e.g. GPU lost, driver unloaded under us
                raise ReaderUnavailable(nvml_reason(error)) from None
        memory = psutil.virtual_memory()
        return MachineReading(
            source="nvml",
            detail=explain(
                f"NVML: driver {self.driver or 'unknown'}, {len(gpus)} GPU(s)", self.fallback_reasons
            ),
            gpus=gpus,
            ram_total_bytes=memory.total,
            ram_available_bytes=memory.available,
            driver=self.driver,
        )

    def _read_gpu(self, index: int) -> GpuReading:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        try:
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)
            reserved = int(mem.reserved)
        except pynvml.NVMLError:
            # Older drivers only know the v1 call, whose "used" includes the reserved part.
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            reserved = 0
        try:
            utilization: int | None = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except pynvml.NVMLError:
            utilization = None
        try:
            running = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError):
            running = []
        processes = [
            ProcessUsage(
                pid=int(p.pid),
                used_bytes=None if p.usedGpuMemory is None else int(p.usedGpuMemory),
                name=_process_name(int(p.pid)),
            )
            for p in running
        ]
        return GpuReading(
            index=index,
            name=str(pynvml.nvmlDeviceGetName(handle)),
            total_bytes=int(mem.total),
            free_bytes=int(mem.free),
            used_bytes=int(mem.used),
            reserved_bytes=reserved,
            utilization_pct=utilization,
            processes=processes,
        )

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                try:
                    pynvml.nvmlShutdown()
                except pynvml.NVMLError:
                    pass
