"""Where the daemon's routing policy lives in the control API, and how to change it."""

from __future__ import annotations

from typing import Any

from roundhouse.desktop.client import Capabilities

POLICY = "/control/v1/routing/policy"
MODE = "/control/v1/routing/mode/{mode}"
MODES: dict[str, str] = {"local": "Local only", "hybrid": "Hybrid", "cloud": "Cloud allowed"}


def write_method(caps: Capabilities) -> str | None:
    """The HTTP method the daemon accepts for policy edits (PATCH preferred)."""
    return next((m for m in ("patch", "put", "post") if caps.has(POLICY, m)), None)


def policy_of(data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("policy"), dict):
        return dict(data["policy"])
    return dict(data) if isinstance(data, dict) else {}
