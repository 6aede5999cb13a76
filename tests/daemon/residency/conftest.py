"""The stand-in NVML library: built with gcc from standin_nvml.c, loaded by pynvml's own loader.

pynvml opens the library with `CDLL("libnvidia-ml.so.1")`. Two ways reach the stand-in by
that name: a child process with LD_LIBRARY_PATH pointing at its folder (the dynamic
loader's documented search path), and, in this process, loading the file once with its
soname before pynvml asks, so the dynamic loader hands pynvml the object already loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pynvml
import pytest

SOURCE = Path(__file__).with_name("standin_nvml.c")
GiB = 1024**3


@pytest.fixture(scope="session")
def standin_nvml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to build the stand-in NVML library")
    folder = tmp_path_factory.mktemp("standin-nvml")
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-Wl,-soname,libnvidia-ml.so.1",
         "-o", str(folder / "libnvidia-ml.so.1"), str(SOURCE)],
        check=True,
    )  # fmt: skip
    return folder


class GpuScript:
    """Writes the figures the stand-in library reports; it re-reads them on every call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(
        self,
        *,
        init: int = 0,
        lost: bool = False,
        driver: str = "550.54.15",
        gpus: list[dict[str, object]] | None = None,
        processes: list[tuple[int, int, int]] = (),  # type: ignore[assignment]
    ) -> None:
        lines = [f"init {init}", f"driver {driver}", f"lost {int(lost)}"]
        for i, gpu in enumerate(gpus or []):
            lines.append(f"name {i} {gpu['name']}")
            lines.append(f"mem {i} {gpu['total']} {gpu.get('reserved', 0)} {gpu['free']} {gpu['used']}")
            lines.append(f"util {i} {gpu.get('util', 0)} {gpu.get('util_mem', 0)}")
        lines += [f"proc {gpu} {pid} {used}" for gpu, pid, used in processes]
        self.path.write_text("\n".join(lines) + "\n")

    def one_gpu(
        self, *, total: int, used: int, name: str = "NVIDIA GeForce RTX 3050", **extra: object
    ) -> None:
        reserved = int(extra.pop("reserved", 0))  # type: ignore[call-overload]
        gpu = {
            "name": name,
            "total": total,
            "used": used,
            "free": total - used - reserved,
            "reserved": reserved,
        }
        self.write(gpus=[gpu], **extra)  # type: ignore[arg-type]


@pytest.fixture
def gpu_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GpuScript:
    script = GpuScript(tmp_path / "nvml-script.txt")
    script.write()
    monkeypatch.setenv("STANDIN_NVML_SCRIPT", str(script.path))
    return script


@pytest.fixture(scope="session")
def nvml_in_process(standin_nvml_dir: Path) -> Path:
    """Make this process's pynvml find the stand-in. Skips where a real NVML got there first."""
    library = standin_nvml_dir / "libnvidia-ml.so.1"
    if pynvml.nvmlLib is not None and not hasattr(pynvml.nvmlLib, "standin_nvml_marker"):
        pytest.skip("pynvml already holds another NVML library in this process")
    ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    return library


@pytest.fixture
def nvml_gpu(nvml_in_process: Path, gpu_script: GpuScript) -> GpuScript:
    return gpu_script


READ_SCRIPT = """
import json
from dataclasses import asdict
from roundhouse.daemon.residency.readers import detect_reader
reader = detect_reader({source!r})
reading = reader.read()
reader.close()
print(json.dumps(asdict(reading)))
"""


@pytest.fixture
def read_in_child() -> Callable[..., dict[str, object]]:
    """Run detect_reader() in a fresh Python with the given library folder on LD_LIBRARY_PATH."""

    def run(library_dir: Path | None, source: str = "auto") -> dict[str, object]:
        environ = dict(os.environ)
        environ.pop("LD_LIBRARY_PATH", None)
        if library_dir is not None:
            environ["LD_LIBRARY_PATH"] = str(library_dir)
        done = subprocess.run(
            [sys.executable, "-c", READ_SCRIPT.format(source=source)],
            env=environ,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    return run


@pytest.fixture
def ollama_standin_factory() -> Iterator[Callable[..., object]]:
    from tests.standins.ollama_server import OllamaStandin

    started: list[OllamaStandin] = []

    def start(**kwargs: object) -> OllamaStandin:
        standin = OllamaStandin(**kwargs).start()  # type: ignore[arg-type]
        started.append(standin)
        return standin

    yield start
    for standin in started:
        standin.stop()


def real_nvml_present() -> bool:
    return ctypes.util.find_library("nvidia-ml") is not None
