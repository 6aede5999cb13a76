"""Settings → Providers & keys: cloud API keys, kept in the OS keyring by the daemon.

A key is typed once and never shown again; the page only ever shows its last four characters.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QGridLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from roundhouse.desktop.key_verdict import key_verdict
from roundhouse.desktop.windows.common import Page


class ProviderRow:
    def __init__(self, page: ProvidersPage, grid: QGridLayout, row: int, provider: str) -> None:
        self.page = page
        self.provider = provider
        self.name = QLabel(provider)
        self.state = QLabel("…")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("paste a new key")
        self.key.setMinimumWidth(self.key.fontMetrics().horizontalAdvance("paste a new key") + 16)
        self.key.setObjectName(f"key-{provider}")
        self.save = QPushButton("Save")
        self.delete = QPushButton("Delete")
        self.test = QPushButton("Test")
        for column, widget in enumerate((self.name, self.state, self.key, self.save, self.delete, self.test)):
            grid.addWidget(widget, row, column)
        self.save.clicked.connect(self.on_save)
        self.delete.clicked.connect(self.on_delete)
        self.test.clicked.connect(self.on_test)
        self.key.returnPressed.connect(self.on_save)

    def show(self, stored: bool, hint: str | None, keyring_ok: bool) -> None:
        self.state.setText(f"stored, ends {hint}" if stored else "no key")
        self.key.setEnabled(keyring_ok)
        self.save.setEnabled(keyring_ok)
        self.save.setText("Replace" if stored else "Add")
        self.delete.setEnabled(keyring_ok and stored)
        self.test.setEnabled(keyring_ok and stored)

    def on_save(self) -> None:
        key = self.key.text().strip()
        if not key:
            self.page.say(f"Type or paste the {self.provider} key first.", error=True)
            return
        self.key.clear()  # the key leaves the UI at once
        client = self.page.controller.client
        self.page.call(
            client.set_key(self.provider, key),
            lambda _: self.page.reload(),
            busy=f"Saving the {self.provider} key…",
            done=f"Saved the {self.provider} key in the OS keyring.",
        )

    def on_delete(self) -> None:
        client = self.page.controller.client
        self.page.call(
            client.delete_key(self.provider),
            lambda _: self.page.reload(),
            done=f"Deleted the {self.provider} key.",
        )

    def on_test(self) -> None:
        def result(answer: dict[str, Any]) -> None:
            text, failed = key_verdict(self.provider, answer)
            self.page.say(text, error=failed)

        self.page.call(
            self.page.controller.client.test_key(self.provider),
            result,
            busy=f"Testing {self.provider} (one token)…",
        )


class ProvidersPage(Page):
    title = "Providers & keys"
    required = "/control/v1/keys"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        self.keyring = QLabel()
        self.keyring.setWordWrap(True)
        self.keyring.setObjectName("keyring")
        layout.addWidget(self.keyring)
        self.grid = QGridLayout()
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.rows: dict[str, ProviderRow] = {}
        self.keyring_ok = False

    def reload(self) -> None:
        self.call(self.controller.client.keys(), self.show_keys)

    def show_keys(self, keys: dict[str, Any]) -> None:
        keyring = keys.get("keyring") or {}
        self.keyring_ok = bool(keyring.get("available"))
        if self.keyring_ok:
            self.keyring.setText(
                f"Keys are kept in the OS keyring ({keyring.get('detail')}), never in a file."
            )
            self.keyring.setStyleSheet("")
        else:
            self.keyring.setText(
                "No OS keyring is available, so keys cannot be stored safely and saving is disabled. "
                f"({keyring.get('detail')})"
            )
            self.keyring.setStyleSheet("color: #b3261e; font-weight: bold;")
        for entry in keys.get("providers", []):
            provider = str(entry["provider"])
            if provider not in self.rows:
                self.rows[provider] = ProviderRow(self, self.grid, len(self.rows), provider)
            self.rows[provider].show(bool(entry.get("stored")), entry.get("hint"), self.keyring_ok)
