"""Status popups: which daemon events deserve one, how often, and showing them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from roundhouse.desktop.money import usd
from roundhouse.desktop.prefs import Prefs


@dataclass(frozen=True)
class Popup:
    kind: str  # one of prefs.POPUP_KINDS
    title: str
    message: str
    # Popups with the same key are shown once (a conversation, a budget threshold).
    key: str | None = None
    warning: bool = False
    # Within the rate limit, a popup more severe than the last of its kind still shows (80 % after 50 %).
    level: int = 0


def popup_for(event: dict[str, Any], *, slow_model_s: float) -> Popup | None:
    """The popup a daemon event calls for, if any."""
    kind = str(event.get("kind", ""))
    data: dict[str, Any] = event.get("data") or {}
    if kind == "budget.threshold":
        scope = "Overall" if data.get("scope") in (None, "overall") else f"App {data.get('app')}"
        window = data.get("window", "")
        threshold = data.get("threshold")
        action = " Cloud requests now run locally." if data.get("action") == "local" else ""
        if data.get("action") == "refuse":
            action = " Cloud requests are now refused."
        return Popup(
            "budget",
            f"{scope} {window} budget at {threshold} %",
            f"{usd(data.get('spent_usd'))} of {usd(data.get('budget_usd'))} spent.{action}",
            key=f"{data.get('scope')}|{window}|{data.get('period')}|{threshold}",
            warning=bool(threshold and int(threshold) >= 100),
            level=_level(threshold),
        )
    if kind.startswith("routing.") and (data.get("private") or "privacy" in kind or "private" in kind):
        conversation = data.get("chat_id") or data.get("conversation") or data.get("request_id")
        where = data.get("model") or "a local model"
        why = data.get("reason") or ", ".join(data.get("reasons") or []) or "it looked private"
        return Popup(
            "privacy",
            "Kept local for privacy",
            f"A conversation{' from ' + str(data['app']) if data.get('app') else ''} went to {where}: {why}.",
            key=f"conversation:{conversation}" if conversation else None,
        )
    if kind in ("residency.load", "residency.unload", "residency.evict") and data.get("seconds") is not None:
        seconds = float(data["seconds"])
        if seconds >= slow_model_s:
            verb = "Loading" if kind == "residency.load" else "Unloading"
            return Popup("slow_model", f"{verb} {data.get('model')} took {seconds:.0f} s", _why(data))
    if kind.startswith("memory.") and data.get("waiting"):
        return Popup(
            "memory", "Memories to review", f"{data['waiting']} memories are waiting for your review."
        )
    if kind == "agents.alert":
        name = data.get("agent") or "An agent"
        return Popup(
            "agent",
            f"{name} found a problem",
            str(data.get("message") or "See Settings → Agents."),
            warning=True,
        )
    return None


def _level(threshold: Any) -> int:
    try:
        return int(threshold)
    except (TypeError, ValueError):
        return 0


def _why(data: dict[str, Any]) -> str:
    reason = data.get("reason")
    return f"Reason: {reason}" if reason else "Large models take a while to move in and out of memory."


# Restarts are capped by the supervisor already, and each one is announced.
UNLIMITED_KINDS = frozenset({"daemon"})


@dataclass
class PopupGate:
    """Turns kinds on or off, keeps one popup per kind per interval, and shows keyed ones once."""

    enabled: dict[str, bool]
    interval_s: float = 60.0
    _last: dict[str, tuple[float, int]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def allow(self, popup: Popup, now: float) -> bool:
        if not self.enabled.get(popup.kind, True):
            return False
        if popup.key is not None and popup.key in self._seen:
            return False
        if popup.kind not in UNLIMITED_KINDS and self._limited(popup, now):
            return False
        self._last[popup.kind] = (now, popup.level)
        if popup.key is not None:
            self._seen.add(popup.key)
        return True

    def _limited(self, popup: Popup, now: float) -> bool:
        last = self._last.get(popup.kind)
        if last is None:
            return False
        at, level = last
        return now - at < self.interval_s and popup.level <= level


class Notifier(QObject):
    """Shows popups through `show` (the tray's balloon), after the gate agrees."""

    shown = Signal(object)  # Popup

    def __init__(self, prefs: Prefs, show: Callable[[Popup], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self._show = show
        self.gate = PopupGate(prefs.popups, prefs.popup_interval_s)

    def on_event(self, event: dict[str, Any]) -> None:
        popup = popup_for(event, slow_model_s=self.prefs.slow_model_s)
        if popup is not None:
            self.notify(popup)

    def notify(self, popup: Popup) -> bool:
        self.gate.enabled = self.prefs.popups
        self.gate.interval_s = self.prefs.popup_interval_s
        if not self.gate.allow(popup, time.monotonic()):
            return False
        self._show(popup)
        self.shown.emit(popup)
        return True
