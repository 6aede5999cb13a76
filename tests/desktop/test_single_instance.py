"""A second launch of the tray app brings the first one's window forward and exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from roundhouse.desktop.single_instance import SingleInstance


def test_second_launch_activates_the_first(qtbot: Any, qapp: Any, tray_home: Path) -> None:
    first = SingleInstance()
    assert first.acquire()
    try:
        with qtbot.waitSignal(first.activated, timeout=30_000):
            second = subprocess.Popen(
                [sys.executable, "-m", "roundhouse.desktop.main"],
                env={**os.environ, "ROUNDHOUSE_HOME": str(tray_home)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            qtbot.waitUntil(lambda: second.poll() is not None, timeout=30_000)
        output = second.communicate()[0]
        assert second.returncode == 0
        assert "already running" in output
    finally:
        first.release()
    again = SingleInstance()
    assert again.acquire(), "the lock is free again once the first instance quits"
    again.release()
