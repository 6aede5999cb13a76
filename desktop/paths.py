"""Where the tray app keeps its own files: its settings, lock file and the daemon's logs.

`ROUNDHOUSE_HOME` relocates everything, as it does for the daemon.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "roundhouse"


def _home() -> Path | None:
    home = os.environ.get("ROUNDHOUSE_HOME")
    return Path(home) if home else None


def config_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def runtime_dir() -> Path:
    home = _home()
    if home:
        return home / "run"
    return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def tray_token_file() -> Path:
    """The admin token the daemon writes for the tray when it listens beyond loopback."""
    return data_dir() / "tray-admin.token"


def daemon_log_file() -> Path:
    return log_dir() / "daemon.log"


def desktop_settings_file() -> Path:
    return config_dir() / "desktop.json"
