"""How a pull through Ollama reads in the window and the tray tooltip, from its progress lines. Pure."""

from __future__ import annotations

from typing import Any


def pull_percent(part: dict[str, Any]) -> int | None:
    """0-100 from a progress line's completed/total, or None when the line has no sizes."""
    total, completed = part.get("total"), part.get("completed")
    if not isinstance(total, int) or total <= 0 or not isinstance(completed, int):
        return None
    return max(0, min(100, completed * 100 // total))


def pull_text(model: str, status: str | None, percent: int | None) -> str:
    """One line such as "Pulling llama3.2:1b: 42% (pulling 3f2a…)"."""
    done = f": {percent}%" if percent is not None else "…"
    return f"Pulling {model}{done}" + (f" ({status})" if status else "")
