"""What the tray says: its state icon, tooltip and status lines, from a Snapshot. Pure."""

from __future__ import annotations

from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.routing_api import MODES
from roundhouse.desktop.windows.common import human_bytes, usd

RUNNING, DEGRADED, STOPPED, CLOUD = "running", "degraded", "stopped", "cloud"


def tray_state(snapshot: Snapshot, supervisor_state: str) -> str:
    if not snapshot.reachable:
        return DEGRADED if supervisor_state == "starting" else STOPPED
    if (
        not snapshot.status.get("ready", True)
        or snapshot.degraded_backends()
        or supervisor_state == "starting"
    ):
        return DEGRADED
    if snapshot.cloud_in_use():
        return CLOUD
    return RUNNING


STATE_WORDS = {
    RUNNING: "running",
    DEGRADED: "degraded",
    STOPPED: "stopped",
    CLOUD: "running, cloud in use",
}


def model_line(model: dict[str, object]) -> str:
    size = model.get("size_vram") or model.get("size_bytes")
    pinned = " (pinned)" if model.get("pinned") else ""
    return f"{model['id']}{' — ' + human_bytes(size) if size else ''}{pinned}"  # type: ignore[arg-type]


def summary_lines(snapshot: Snapshot, supervisor_state: str) -> list[str]:
    state = tray_state(snapshot, supervisor_state)
    if not snapshot.reachable:
        words = "starting…" if supervisor_state == "starting" else "stopped"
        return [f"Roundhouse: daemon {words}"]
    lines = [f"Roundhouse: {STATE_WORDS[state]} at {snapshot.endpoint}"]
    lines.append(f"Mode: {MODES.get(snapshot.mode, snapshot.mode)}")
    degraded = snapshot.degraded_backends()
    if degraded:
        lines.append(f"Not working: {', '.join(degraded)}")
    loaded = snapshot.loaded_models()
    lines.append("Loaded: " + (", ".join(model_line(m) for m in loaded) if loaded else "no models"))
    spent = snapshot.spent_today()
    if spent is not None:
        lines.append(f"Today: {usd(spent)}")
    for text in snapshot.operations.values():
        lines.append(text)
    return lines


def tooltip(snapshot: Snapshot, supervisor_state: str) -> str:
    return "\n".join(summary_lines(snapshot, supervisor_state))
