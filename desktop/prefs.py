"""The tray app's own preferences (not the daemon's config): a small JSON file in the config dir."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from roundhouse.desktop import paths
from roundhouse.desktop.daemon_address import configured_url

log = logging.getLogger(__name__)

# Each kind of status popup, with the words the Settings window shows for it.
POPUP_KINDS: dict[str, str] = {
    "budget": "Budget reached 50 / 80 / 100 %",
    "privacy": "A conversation was kept local for privacy",
    "slow_model": "A model load or eviction took more than a few seconds",
    "daemon": "The daemon crashed or was restarted",
    "memory": "Memories are waiting for review",
    "agent": "A background agent found a problem",
}


@dataclass
class Prefs:
    # Empty: wherever the daemon's own environment and config file put it (see daemon_address).
    daemon_url: str = ""
    # Start a daemon when none answers at daemon_url.
    supervise: bool = True
    popups: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(POPUP_KINDS, True))
    # At most one popup of a kind per this many seconds.
    popup_interval_s: float = 60.0
    slow_model_s: float = 5.0
    restart_max: int = 5
    restart_window_s: float = 300.0
    stop_timeout_s: float = 10.0
    poll_interval_s: float = 2.0

    def url(self) -> str:
        """The daemon address the tray talks to: the one set here, else the daemon's configured one."""
        return self.daemon_url.strip().rstrip("/") or configured_url()

    @classmethod
    def load(cls, path: Path | None = None) -> Prefs:
        path = path or paths.desktop_settings_file()
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        prefs = cls(**{k: v for k, v in raw.items() if k in known})
        prefs.popups = {**dict.fromkeys(POPUP_KINDS, True), **prefs.popups}
        return prefs

    def save(self, path: Path | None = None) -> None:
        path = path or paths.desktop_settings_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)
