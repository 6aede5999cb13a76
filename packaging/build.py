"""Build the onedir bundle for this OS into dist/roundhouse/ and check it is complete.

    python packaging/build.py [--clean] [--archive]

Runs PyInstaller on packaging/roundhouse.spec, adds the Linux install files next to the
executables, then fails if any file from bundle_layout.expected_files() is missing.
--archive also packs the bundle as dist/roundhouse-<version>-<os>-<machine>.tar.gz (.zip on Windows).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def load_layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_layout", HERE / "bundle_layout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree_size(path: Path) -> int:
    return sum(
        entry.stat().st_size for entry in path.rglob("*") if entry.is_file() and not entry.is_symlink()
    )


def add_linux_extras(bundle: Path, layout: ModuleType) -> None:
    for name in layout.LINUX_EXTRAS:
        target = bundle / name
        shutil.copy2(HERE / "linux" / name, target)
        if name.endswith(".sh"):
            target.chmod(0o755)


def archive(bundle: Path, layout: ModuleType) -> Path:
    from roundhouse.daemon import __version__

    system = layout.this_os()
    name = f"{layout.BUNDLE_NAME}-{__version__}-{system.lower()}-{platform.machine().lower()}"
    packed = shutil.make_archive(
        str(bundle.parent / name),
        "zip" if system == "Windows" else "gztar",
        root_dir=bundle.parent,
        base_dir=bundle.name,
    )
    return Path(packed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clean", action="store_true", help="drop PyInstaller's cache first")
    parser.add_argument("--archive", action="store_true", help="also pack the bundle for download")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    args = parser.parse_args(argv)

    layout = load_layout()
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level=WARN",
        f"--distpath={args.dist}",
        f"--workpath={args.work}",
        str(HERE / "roundhouse.spec"),
    ]
    if args.clean:
        command.insert(3, "--clean")
    started = time.monotonic()
    # Analysis imports the daemon's modules; keep them off the network (model hub, price map).
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    elapsed = time.monotonic() - started

    bundle = args.dist / layout.BUNDLE_NAME
    if layout.this_os() == "Linux":
        add_linux_extras(bundle, layout)
    missing = layout.missing_files(bundle)
    missing += [
        f"{name} metadata" for name in layout.METADATA_DISTRIBUTIONS if not layout.has_metadata(bundle, name)
    ]
    if not layout.has_onnxruntime(bundle):
        missing.append(f"{layout.ONNXRUNTIME_CAPI_DIR}/{layout.ONNXRUNTIME_MODULE_GLOB}")
    print(f"built {bundle} in {elapsed:.0f} s; {tree_size(bundle) / 2**20:.0f} MiB")
    if missing:
        print("the bundle is incomplete; missing:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    if args.archive:
        print(f"packed {archive(bundle, layout)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
