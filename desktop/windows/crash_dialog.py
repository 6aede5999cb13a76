"""Shown when the daemon keeps crashing and the supervisor stopped restarting it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from roundhouse.desktop.slots import bind


class CrashDialog(QDialog):
    def __init__(
        self, log_tail: str, icon: QIcon, on_restart: Callable[[], None], on_open_logs: Callable[[], None]
    ) -> None:
        super().__init__()
        self.setWindowTitle("Roundhouse daemon stopped")
        self.setWindowIcon(icon)
        self.resize(760, 460)
        layout = QVBoxLayout(self)
        message = QLabel(
            "The Roundhouse daemon crashed several times in a row and was not restarted again. "
            "The end of its log is below."
        )
        message.setWordWrap(True)
        layout.addWidget(message)
        self.log = QPlainTextEdit(log_tail or "(the log is empty)")
        self.log.setReadOnly(True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.moveCursor(self.log.textCursor().MoveOperation.End)
        layout.addWidget(self.log, 1)
        buttons = QDialogButtonBox()
        self.restart = QPushButton("Restart")
        self.open_logs = QPushButton("Open logs")
        buttons.addButton(self.restart, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.open_logs, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.restart.clicked.connect(bind(on_restart))
        self.restart.clicked.connect(bind(self.accept))
        self.open_logs.clicked.connect(on_open_logs)
        layout.addWidget(buttons)
