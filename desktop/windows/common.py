"""Pieces every window shares: the page base class, formatting, and the "not available" notice."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop import money
from roundhouse.desktop.client import ControlError
from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.tasks import spawn

if TYPE_CHECKING:
    from roundhouse.desktop.controller import Controller

T = TypeVar("T")


def human_bytes(value: float | int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def usd(value: float | int | None) -> str:
    """A budget or a sum of money; no budget reads as "no limit"."""
    return "no limit" if value is None else money.usd(value)


def fit_columns(table: QTableWidget) -> None:
    """Columns as wide as their contents, on one line; the table scrolls sideways if it must."""
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)


def in_cell(*widgets: QWidget) -> QWidget:
    """Widgets for a table cell at their natural width, left-aligned, however wide the column."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget)
    row.addStretch(1)
    return box


class Page(QWidget):
    """A page that shows data from one daemon capability, or says plainly that it is missing.

    `required` is a control-API path; when the running daemon has no such path the page shows
    a notice instead of its content. Subclasses build `self.body` and implement `reload()`.
    """

    title = ""
    required: str | None = None
    capability_name = ""
    # How long a status line stays before it clears itself.
    message_clear_s = 5.0
    error_clear_s = 15.0

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._stack = QStackedWidget(self)
        self.body = QWidget()
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.notice.setObjectName("unavailable")
        self._stack.addWidget(self.body)
        self._stack.addWidget(self.notice)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("status")
        self._clear_timer = QTimer(self)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(self.status.clear)
        outer = QVBoxLayout(self)
        outer.addWidget(self._stack, 1)
        outer.addWidget(self.status)
        controller.monitor.changed.connect(self._on_snapshot)

    @property
    def available(self) -> bool:
        if self.required is None:
            return True
        return self.controller.monitor.snapshot.capabilities.has(self.required)

    def unavailable_text(self) -> str:
        snapshot = self.controller.monitor.snapshot
        if not snapshot.reachable:
            return "The daemon is not running, so there is nothing to show. Start it from the tray menu."
        return (
            f"{self.capability_name or self.title} is not available in this version of the daemon "
            f"(it has no {self.required} endpoint yet), so this page has nothing to show."
        )

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        reachable = self.controller.monitor.snapshot.reachable
        if not reachable or not self.available:
            self.notice.setText(self.unavailable_text())
            self._stack.setCurrentWidget(self.notice)
            return
        self._stack.setCurrentWidget(self.body)
        self.reload()

    @property
    def showing_notice(self) -> bool:
        return self._stack.currentWidget() is self.notice

    def reload(self) -> None:
        """Fetch this page's data from the daemon (asynchronously)."""

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """The monitor's latest view of the daemon; pages that show live data override this."""

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        if not self.isVisible():
            return
        if self.showing_notice and snapshot.reachable and self.available:
            self.refresh()
        elif not self.showing_notice and not (snapshot.reachable and self.available):
            self.refresh()
        else:
            self.on_snapshot(snapshot)

    def call(
        self,
        coro: Coroutine[Any, Any, T],
        on_done: Callable[[T], None] | None = None,
        *,
        busy: str | None = None,
        done: str | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run a daemon call; its error (if any) shows in the page's status line."""
        if busy:
            self.say(busy)

        def ok(result: T) -> None:
            if done is not None:
                self.say(done)
            elif busy:
                self.say("")
            if on_done is not None:
                on_done(result)

        spawn(coro, ok, on_error or self.fail)

    def fail_or_missing(self, exc: Exception) -> None:
        """For a page's main read: a 404 means the daemon has the endpoint but not the feature
        (e.g. "background agents are not enabled"); say so instead of showing an empty page."""
        if isinstance(exc, ControlError) and exc.status == 404:
            self.notice.setText(
                f"{self.capability_name or self.title}: {exc.message}. This page has nothing to show."
            )
            self._stack.setCurrentWidget(self.notice)
            return
        self.fail(exc)

    def fail(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, ControlError) else f"{type(exc).__name__}: {exc}"
        self.say(message, error=True)

    def say(self, text: str, *, error: bool = False) -> None:
        """Show `text` in the status line; it clears itself, errors after longer than news."""
        self.status.setStyleSheet("color: #b3261e;" if error else "")
        self.status.setText(text)
        self._clear_timer.stop()
        if text:
            self._clear_timer.start(int(1000 * (self.error_clear_s if error else self.message_clear_s)))
