"""Shown when the daemon keeps crashing and the supervisor stopped restarting it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from roundhouse.desktop.crash_report import error_lines
from roundhouse.desktop.slots import bind


def _log_view(text: str) -> QPlainTextEdit:
    view = QPlainTextEdit(text)
    view.setReadOnly(True)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    view.moveCursor(view.textCursor().MoveOperation.End)
    return view


class CrashDialog(QDialog):
    def __init__(
        self,
        how_it_ended: str,
        log_tail: str,
        icon: QIcon,
        on_restart: Callable[[], None],
        on_open_logs: Callable[[], None],
    ) -> None:
        super().__init__()
        self.setWindowTitle("Roundhouse daemon stopped")
        self.setWindowIcon(icon)
        self.resize(760, 520)
        layout = QVBoxLayout(self)
        self.message = QLabel(
            f"{how_it_ended} It was not restarted again: it stopped several times in a row."
        )
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        errors = error_lines(log_tail)
        layout.addWidget(QLabel("Errors in its log:" if errors else "No error lines in its log."))
        self.errors = _log_view(errors)
        self.errors.setVisible(bool(errors))
        layout.addWidget(self.errors, 1)
        layout.addWidget(QLabel("The end of its log:"))
        self.log = _log_view(log_tail or "(the log is empty)")
        layout.addWidget(self.log, 2)
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
