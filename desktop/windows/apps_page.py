"""Settings → Apps & tokens: one token per app, created, copied once, revoked."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.windows.common import Page


class AppsPage(Page):
    title = "Apps & tokens"
    required = "/control/v1/tokens"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        layout.addWidget(
            QLabel("Each app sends its own token, so requests, spend and rules are kept per app.")
        )
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["App", "Scope", "Token ends", "Created"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table, 1)

        create = QHBoxLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("app name, e.g. open-webui")
        self.create = QPushButton("Create token")
        self.revoke = QPushButton("Revoke selected")
        create.addWidget(self.name, 1)
        create.addWidget(self.create)
        create.addWidget(self.revoke)
        layout.addLayout(create)

        shown = QHBoxLayout()
        self.token = QLineEdit()
        self.token.setReadOnly(True)
        self.token.setPlaceholderText("a new token is shown here once")
        self.copy = QPushButton("Copy")
        self.copy.setEnabled(False)
        shown.addWidget(self.token, 1)
        shown.addWidget(self.copy)
        layout.addLayout(shown)

        self.create.clicked.connect(self.on_create)
        self.name.returnPressed.connect(self.on_create)
        self.revoke.clicked.connect(self.on_revoke)
        self.copy.clicked.connect(self.on_copy)

    def reload(self) -> None:
        self.call(self.controller.client.tokens(), self.show_tokens)

    def show_tokens(self, tokens: list[dict[str, Any]]) -> None:
        self.table.setRowCount(len(tokens))
        for row, token in enumerate(tokens):
            created = token.get("created")
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else ""
            cells = (token.get("name", ""), token.get("scope", "app"), "…" + str(token.get("hint", "")), when)
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(str(text)))

    def app_names(self) -> list[str]:
        return [self.table.item(row, 0).text() for row in range(self.table.rowCount())]

    def on_create(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.say("Give the app a name first.", error=True)
            return

        def created(token: str) -> None:
            self.token.setText(token)
            self.copy.setEnabled(True)
            self.name.clear()
            self.say(f"Token for {name} created. Copy it now: it is not shown again.")
            self.reload()

        self.call(self.controller.client.create_token(name), created)

    def on_revoke(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        if not rows:
            self.say("Select an app to revoke its token.", error=True)
            return
        name = self.table.item(rows[0], 0).text()
        self.call(
            self.controller.client.revoke_token(name),
            lambda _: self.reload(),
            done=f"Revoked {name}'s token.",
        )

    def on_copy(self) -> None:
        QGuiApplication.clipboard().setText(self.token.text())
        self.say("Copied. The token is cleared from this window.")
        self.token.clear()
        self.copy.setEnabled(False)
