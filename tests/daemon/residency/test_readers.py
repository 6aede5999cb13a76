"""Reading the machine: real pynvml against the stand-in NVML library, and the fallbacks."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from roundhouse.daemon.residency.readers import ReaderUnavailable, detect_reader
from roundhouse.daemon.residency.readers.amd import AmdSysfsReader
from roundhouse.daemon.residency.readers.nvml import NvmlReader
from tests.daemon.residency.conftest import GiB, GpuScript, real_nvml_present

Child = Callable[..., dict[str, object]]


def test_nvml_reading_in_a_fresh_process(
    standin_nvml_dir: Path, gpu_script: GpuScript, read_in_child: Child
) -> None:
    gpu_script.write(
        driver="550.54.15",
        gpus=[
            {"name": "NVIDIA GeForce RTX 3060", "total": 12 * GiB, "reserved": GiB // 4,
             "free": 8 * GiB, "used": 12 * GiB - 8 * GiB - GiB // 4, "util": 37},
            {"name": "NVIDIA RTX A2000", "total": 6 * GiB, "free": 6 * GiB, "used": 0},
        ],
        processes=[(0, os.getpid(), 3 * GiB), (0, 4242, GiB // 2)],
    )  # fmt: skip
    reading = read_in_child(standin_nvml_dir)
    assert reading["source"] == "nvml"
    assert reading["driver"] == "550.54.15"
    assert "NVML: driver 550.54.15, 2 GPU(s)" in str(reading["detail"])
    first, second = reading["gpus"]  # type: ignore[misc]
    assert first["name"] == "NVIDIA GeForce RTX 3060"
    assert (first["total_bytes"], first["free_bytes"], first["reserved_bytes"]) == (
        12 * GiB,
        8 * GiB,
        GiB // 4,
    )
    assert first["used_bytes"] == 12 * GiB - 8 * GiB - GiB // 4
    assert first["utilization_pct"] == 37
    assert {(p["pid"], p["used_bytes"]) for p in first["processes"]} == {
        (os.getpid(), 3 * GiB),
        (4242, GiB // 2),
    }
    assert second["name"] == "NVIDIA RTX A2000" and second["processes"] == []


def test_driver_not_loaded_falls_back_and_says_why(
    standin_nvml_dir: Path, gpu_script: GpuScript, read_in_child: Child
) -> None:
    gpu_script.write(init=9)  # NVML_ERROR_DRIVER_NOT_LOADED
    reading = read_in_child(standin_nvml_dir)
    assert reading["source"] in ("cpu", "amd-sysfs", "apple-unified")
    assert "NVML: driver not loaded" in str(reading["detail"])


@pytest.mark.skipif(real_nvml_present(), reason="a real NVIDIA driver is installed here")
def test_no_nvidia_library_falls_back_to_system_ram(read_in_child: Child) -> None:
    reading = read_in_child(None)
    assert "NVML: libnvidia-ml not found" in str(reading["detail"])
    if reading["source"] == "cpu":
        assert reading["gpus"] == []
        assert reading["ram_total_bytes"] == psutil.virtual_memory().total


def test_forcing_cpu_reads_system_ram() -> None:
    reading = detect_reader("cpu").read()
    assert reading.source == "cpu" and reading.unified
    assert reading.total_bytes == psutil.virtual_memory().total
    assert reading.detail.startswith("CPU only")


def test_in_process_reader_follows_the_script_between_reads(nvml_gpu: GpuScript) -> None:
    nvml_gpu.one_gpu(total=8 * GiB, used=GiB)
    reader = NvmlReader()
    try:
        assert reader.read().gpus[0].free_bytes == 7 * GiB
        nvml_gpu.one_gpu(total=8 * GiB, used=5 * GiB)
        assert reader.read().gpus[0].free_bytes == 3 * GiB
    finally:
        reader.close()


def test_in_process_driver_not_loaded_is_reader_unavailable(nvml_gpu: GpuScript) -> None:
    nvml_gpu.write(init=9)
    with pytest.raises(ReaderUnavailable, match="NVML: driver not loaded"):
        NvmlReader()


def _amd_card(root: Path, card: str, total: int, used: int, name: str | None = None) -> None:
    device = root / card / "device"
    device.mkdir(parents=True)
    (device / "mem_info_vram_total").write_text(f"{total}\n")
    (device / "mem_info_vram_used").write_text(f"{used}\n")
    (device / "gpu_busy_percent").write_text("12\n")
    if name:
        (device / "product_name").write_text(name + "\n")


def test_amd_sysfs_reading(tmp_path: Path) -> None:
    _amd_card(tmp_path, "card0", 16 * GiB, 3 * GiB, "Radeon RX 7800 XT")
    _amd_card(tmp_path, "card1", 512 * 1024**2, 100 * 1024**2)
    reading = AmdSysfsReader(tmp_path, fallback_reasons=["NVML: driver not loaded"]).read()
    assert reading.source == "amd-sysfs"
    assert [g.name for g in reading.gpus] == ["Radeon RX 7800 XT", "AMD GPU (card1)"]
    assert reading.gpus[0].free_bytes == 13 * GiB and reading.gpus[0].utilization_pct == 12
    assert "NVML: driver not loaded" in reading.detail


def test_no_amd_card_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ReaderUnavailable, match="AMD sysfs"):
        AmdSysfsReader(tmp_path)
