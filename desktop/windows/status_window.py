"""The main window: where requests go and what is loaded, for desktops without a tray
(and what a second launch brings forward)."""

from __future__ import annotations

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
        controller.monitor.changed.connect(self.show_snapshot)
        self.show_snapshot(controller.monitor.snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.summary.setText("\n".join(summary_lines(snapshot, self.controller.supervisor.state)))

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if self.controller.monitor.snapshot.reachable:
            spawn(self.controller.client.recent_requests(20), self.show_requests, lambda _exc: None)

    def show_requests(self, rows: list[dict[str, object]]) -> None:
        self.requests.setRowCount(len(rows))
        for row, request in enumerate(rows):
            cost = request.get("cost_usd")
            values = (
                request.get("app"),
                request.get("model_used"),
                request.get("backend"),
                request.get("status"),
                cost,
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
