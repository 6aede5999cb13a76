"""Settings → Daemon: the address the tray talks to, shown and changed here, saved with its settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from roundhouse.desktop.daemon_address import configured_url
from roundhouse.desktop.windows.common import Page


def valid_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class ConnectionPage(Page):
    title = "Daemon"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        self.address = QLineEdit()
        self.address.setPlaceholderText(configured_url())
        self.address.returnPressed.connect(self.apply)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.apply)
        self.reset_button = QPushButton("Use the daemon's config")
        self.reset_button.clicked.connect(self.use_config)
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(self.save_button)
        row.addWidget(self.reset_button)
        form = QFormLayout()
        form.addRow("Address", row)
        layout.addLayout(form)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        layout.addStretch(1)

    def refresh(self) -> None:
        # This page is about reaching the daemon, so it shows even while the daemon is down.
        self._stack.setCurrentWidget(self.body)
        self.address.setText(self.controller.client.base_url)
        self._show_source()

    def _show_source(self) -> None:
        if self.controller.prefs.daemon_url:
            self.hint.setText("Set here; the daemon's config file and ROUNDHOUSE_SERVER__PORT are not used.")
        else:
            self.hint.setText(f"From the daemon's config file and environment ({configured_url()}).")

    def apply(self) -> None:
        text = self.address.text().strip().rstrip("/")
        if not valid_url(text):
            self.say("Enter an address such as http://127.0.0.1:8719.", error=True)
            return
        self._switch(text, text)

    def use_config(self) -> None:
        self._switch("", configured_url())

    def _switch(self, saved: str, url: str) -> None:
        self.controller.prefs.daemon_url = saved
        self.controller.save_prefs()
        self.controller.client.set_base_url(url)
        self.controller.monitor.refresh_soon()
        self.address.setText(url)
        self._show_source()
        self.say(f"Talking to the daemon at {url}.")
