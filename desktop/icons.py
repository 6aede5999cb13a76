"""The tray's icons, one per state, from resources/icons (drawn by make_icons.py)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def icon_dir() -> Path:
    return Path(str(resources.files("roundhouse.resources") / "icons"))


def state_icon(state: str) -> QIcon:
    icon = QIcon()
    for size in SIZES:
        path = icon_dir() / f"{state}-{size}.png"
        if path.exists():
            icon.addFile(str(path))
    return icon


class StateIcons:
    def __init__(self) -> None:
        self._cache: dict[str, QIcon] = {}

    def __call__(self, state: str) -> QIcon:
        if state not in self._cache:
            self._cache[state] = state_icon(state)
        return self._cache[state]
