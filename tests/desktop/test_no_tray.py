"""On a desktop without a system tray the app waits a while, then shows its window; it
never exits silently."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.desktop.conftest import DaemonProcess, _free_display, _stop


def windows_named(display: str, name: str) -> bool:
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True
    ).stdout
    return f'"{name}": (' in tree


def test_without_a_tray_the_status_window_shows(desktop: Any, daemon: DaemonProcess, tmp_path: Path) -> None:
    number = _free_display()
    display = f":{number}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
    app: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {**os.environ, "DISPLAY": display, "ROUNDHOUSE_HOME": str(tmp_path / "home")}
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roundhouse.desktop.main",
                "--url",
                daemon.url,
                "--no-supervise",
                "--tray-wait",
                "2",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not windows_named(display, "Roundhouse") and time.monotonic() < deadline:
            assert app.poll() is None, "the app must not exit when there is no tray"
            time.sleep(0.2)
        assert windows_named(display, "Roundhouse"), "the Roundhouse window is shown instead of a tray icon"
        assert app.poll() is None
    finally:
        if app is not None:
            _stop(app)
        _stop(xvfb)
