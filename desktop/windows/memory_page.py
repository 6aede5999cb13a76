"""Settings → Memory: the review queue (approve, edit, reject) and the Open WebUI users to sync."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.monitor import MEMORY
from roundhouse.desktop.slots import bind
from roundhouse.desktop.windows.common import Page

USERS = "/control/v1/memory/openwebui/users"
SYNC = "/control/v1/memory/openwebui/sync"
ID_ROLE = Qt.ItemDataRole.UserRole


class MemoryPage(Page):
    title = "Memory"
    required = MEMORY
    capability_name = "The memory curator"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        layout.addWidget(QLabel("Memories waiting for your review before they reach Open WebUI:"))
        self.queue = QListWidget()
        layout.addWidget(self.queue, 1)
        buttons = QHBoxLayout()
        self.approve = QPushButton("Approve")
        self.edit = QPushButton("Edit…")
        self.reject = QPushButton("Reject")
        for button in (self.approve, self.edit, self.reject):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.approve.clicked.connect(bind(self.decide, "approve"))
        self.reject.clicked.connect(bind(self.decide, "reject"))
        self.edit.clicked.connect(self.on_edit)

        users = QGroupBox("Open WebUI users whose memory Roundhouse keeps in step")
        users_box = QVBoxLayout(users)
        self.users = QListWidget()
        users_box.addWidget(self.users)
        add = QHBoxLayout()
        self.user_url = QLineEdit()
        self.user_url.setPlaceholderText("http://localhost:8080")
        self.user_key = QLineEdit()
        self.user_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.user_key.setPlaceholderText("that user's Open WebUI API key")
        self.user_label = QLineEdit()
        self.user_label.setPlaceholderText("label")
        self.add_user = QPushButton("Add")
        self.remove_user = QPushButton("Remove")
        self.sync = QPushButton("Sync now")
        for widget in (
            self.user_url,
            self.user_key,
            self.user_label,
            self.add_user,
            self.remove_user,
            self.sync,
        ):
            add.addWidget(widget)
        users_box.addLayout(add)
        layout.addWidget(users)
        self.add_user.clicked.connect(self.on_add_user)
        self.remove_user.clicked.connect(self.on_remove_user)
        self.sync.clicked.connect(self.on_sync)

    def reload(self) -> None:
        client = self.controller.client
        self.call(client.get(MEMORY, status="pending"), self.show_queue, on_error=self.fail_or_missing)
        if self.controller.monitor.snapshot.capabilities.has(USERS):
            self.call(client.get(USERS), self.show_users, on_error=lambda _exc: None)

    def show_queue(self, data: dict[str, Any]) -> None:
        self.queue.clear()
        for memory in data.get("memories", []):
            item = QListWidgetItem(str(memory.get("text", "")))
            item.setData(ID_ROLE, str(memory.get("id")))
            item.setToolTip(", ".join(str(t) for t in memory.get("tags") or []))
            self.queue.addItem(item)
        self.controller.monitor.refresh_soon()

    def show_users(self, data: dict[str, Any]) -> None:
        self.users.clear()
        for user in data.get("users", []):
            synced = (
                "error: " + str(user["last_error"])
                if user.get("last_error")
                else f"{user.get('linked', 0)} memories"
            )
            item = QListWidgetItem(f"{user.get('label') or user.get('id')} — {user.get('url')} ({synced})")
            item.setData(ID_ROLE, str(user.get("id")))
            self.users.addItem(item)

    def _selected(self, widget: QListWidget, what: str) -> str | None:
        items = widget.selectedItems()
        if not items:
            self.say(f"Select a {what} first.", error=True)
            return None
        return str(items[0].data(ID_ROLE))

    def decide(self, verdict: str) -> None:
        memory_id = self._selected(self.queue, "memory")
        if memory_id is not None:
            self.call(
                self.controller.client.post(f"{MEMORY}/{memory_id}/{verdict}"),
                lambda _: self.reload(),
                done="Approved." if verdict == "approve" else "Rejected.",
            )

    def on_edit(self) -> None:
        memory_id = self._selected(self.queue, "memory")
        if memory_id is None:
            return
        current = self.queue.selectedItems()[0].text()
        text, ok = QInputDialog.getMultiLineText(self, "Edit memory", "Memory:", current)
        if ok and text.strip() and text.strip() != current:
            self.save_edit(memory_id, text.strip())

    def save_edit(self, memory_id: str, text: str) -> None:
        self.call(
            self.controller.client.patch(f"{MEMORY}/{memory_id}", {"text": text}),
            lambda _: self.reload(),
            done="Memory edited; approve it to send it to Open WebUI.",
        )

    def on_add_user(self) -> None:
        url, key, label = (
            self.user_url.text().strip(),
            self.user_key.text().strip(),
            self.user_label.text().strip(),
        )
        if not url or not key:
            self.say("Give the Open WebUI address and the user's API key.", error=True)
            return
        self.user_key.clear()
        body = {"url": url, "api_key": key, **({"label": label} if label else {})}
        self.call(
            self.controller.client.post(USERS, body, timeout_s=60.0), lambda _: self.reload(), busy="Adding…"
        )

    def on_remove_user(self) -> None:
        user_id = self._selected(self.users, "user")
        if user_id is not None:
            self.call(self.controller.client.delete(f"{USERS}/{user_id}"), lambda _: self.reload())

    def on_sync(self) -> None:
        self.call(self.controller.client.post(SYNC, timeout_s=120.0), lambda _: self.reload(), done="Synced.")
