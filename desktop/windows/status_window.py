"""The main window: where requests go and what is loaded, for desktops without a tray
(and what a second launch brings forward)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.money import usd
from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.slots import bind
from roundhouse.desktop.tasks import spawn
from roundhouse.desktop.tray_text import summary_lines

if TYPE_CHECKING:
    from roundhouse.desktop.controller import Controller


class StatusWindow(QWidget):
    def __init__(self, controller: Controller, icon: QIcon) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("Roundhouse")
        self.setWindowIcon(icon)
        self.resize(760, 480)
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        buttons = QHBoxLayout()
        for text, slot in (
            ("Settings…", bind(controller.open_settings)),
            ("Budget…", controller.open_budget),
            ("Open logs", controller.open_logs),
            ("Start", controller.start_daemon),
            ("Stop", controller.stop_daemon),
            ("Restart", controller.restart_daemon),
            ("Quit", controller.quit),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Recent requests"))
        self.requests = QTableWidget(0, 5)
        self.requests.setHorizontalHeaderLabels(["App", "Model", "Backend", "Status", "Cost"])
        self.requests.horizontalHeader().setStretchLastSection(True)
        self.requests.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.requests, 1)
        self._reading: asyncio.Task[list[dict[str, object]]] | None = None
        self._read_again = False
        controller.monitor.changed.connect(self.show_snapshot)
        controller.monitor.event.connect(self._on_event)
        self.show_snapshot(controller.monitor.snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.summary.setText("\n".join(summary_lines(snapshot, self.controller.supervisor.state)))
        if not snapshot.reachable:
            # The ledger lives in the daemon: with it stopped, the rows shown would be stale.
            self.requests.setRowCount(0)
        elif self.isVisible() and self.requests.rowCount() == 0:
            self.reload_requests()

    def _on_event(self, event: dict[str, object]) -> None:
        if event.get("kind") == "request.done" and self.isVisible():
            self.reload_requests()

    def reload_requests(self) -> None:
        """Read the latest requests; one read at a time, and one more if asked meanwhile."""
        if not self.controller.monitor.snapshot.reachable:
            return
        if self._reading is not None and not self._reading.done():
            self._read_again = True
            return
        self._reading = spawn(
            self.controller.client.recent_requests(20), self._got_requests, self._read_failed
        )

    def _got_requests(self, rows: list[dict[str, object]]) -> None:
        self.show_requests(rows)
        if self._read_again:
            self._read_again = False
            self.reload_requests()

    def _read_failed(self, _exc: Exception) -> None:
        self._read_again = False

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        self.reload_requests()

    def show_requests(self, rows: list[dict[str, object]]) -> None:
        self.requests.setRowCount(len(rows))
        for row, request in enumerate(rows):
            cost = request.get("cost_usd")
            values = (
                request.get("app"),
                request.get("model_used"),
                request.get("backend"),
                request.get("status"),
                None if cost is None else usd(cost),
            )
            for column, value in enumerate(values):
                self.requests.setItem(row, column, QTableWidgetItem("" if value is None else str(value)))

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing a window never quits the app; Quit does. Without a tray, the window stays
        # reachable from the task bar.
        event.ignore()
        if self.controller.tray_available:
            self.hide()
        else:
            self.showMinimized()
