"""Where the daemon listens, read the way the daemon reads it: ROUNDHOUSE_SERVER__HOST / __PORT
over the config file's `[server]` table over the built-in 127.0.0.1:8719.

Read here with tomllib rather than through the daemon's settings, so the tray never imports the
daemon; a value the daemon would reject falls back to the default rather than stopping the tray.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

from roundhouse.desktop import paths

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8719
# A daemon bound to every interface is reached on loopback.
_ANY_HOSTS = ("", "0.0.0.0", "::")


def config_file() -> Path:
    return paths.config_dir() / "config.toml"


def _server_table(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            server = tomllib.load(handle).get("server")
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("cannot read the daemon address from %s: %s", path, exc)
        return {}
    return server if isinstance(server, dict) else {}


def _port(value: Any) -> int | None:
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 1 <= port <= 65535 else None


def url_for(host: str, port: int) -> str:
    host = DEFAULT_HOST if host in _ANY_HOSTS else host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def configured_url(config: Path | None = None) -> str:
    """The daemon's address from its environment and config file."""
    server = _server_table(config or config_file())
    host = os.environ.get("ROUNDHOUSE_SERVER__HOST") or server.get("host")
    port = _port(os.environ.get("ROUNDHOUSE_SERVER__PORT")) or _port(server.get("port"))
    return url_for(str(host) if isinstance(host, str) else DEFAULT_HOST, port or DEFAULT_PORT)
