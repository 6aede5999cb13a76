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
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.monitor import MEMORY, Snapshot
from roundhouse.desktop.slots import bind
from roundhouse.desktop.windows.common import Page

USERS = "/control/v1/memory/openwebui/users"
SYNC = "/control/v1/memory/openwebui/sync"
ID_ROLE = Qt.ItemDataRole.UserRole
NOTHING_TO_REVIEW = (
    "Nothing to review. Memories the curator proposes wait here for your approval "
    "before they reach Open WebUI."
)
NO_USERS = "No Open WebUI users yet. Add one below to keep its memory in step."


def empty_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setObjectName("empty")
    return label


def list_or_empty(items: QListWidget, empty: QLabel) -> QStackedWidget:
    """The list, or a sentence saying why it is empty."""
    stack = QStackedWidget()
    stack.addWidget(items)
    stack.addWidget(empty)
    stack.setCurrentWidget(empty)
    return stack


class MemoryPage(Page):
    title = "Memory"
    required = MEMORY
    capability_name = "The memory curator"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        intro = QLabel("Memories waiting for your review before they reach Open WebUI:")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.queue = QListWidget()
        self.queue_empty = empty_label(NOTHING_TO_REVIEW)
        self.queue_stack = list_or_empty(self.queue, self.queue_empty)
        layout.addWidget(self.queue_stack, 1)
        buttons = QHBoxLayout()
        self.approve = QPushButton("Approve")
        self.edit = QPushButton("Edit…")
        self.reject = QPushButton("Reject")
        for button in (self.approve, self.edit, self.reject):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.approve.clicked.connect(bind(self.decide, "approve"))
        self.reject.clicked.connect(bind(self.decide, "reject"))
        self.edit.clicked.connect(self.on_edit)

        users = QGroupBox("Open WebUI users whose memory Roundhouse keeps in step")
        users_box = QVBoxLayout(users)
        self.users = QListWidget()
        self.users_empty = empty_label(NO_USERS)
        self.users_stack = list_or_empty(self.users, self.users_empty)
        users_box.addWidget(self.users_stack)
        add = QHBoxLayout()
        self.user_url = QLineEdit()
        self.user_url.setPlaceholderText("http://localhost:8080")
        self.user_key = QLineEdit()
        self.user_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.user_key.setPlaceholderText("that user's Open WebUI API key")
        self.user_label = QLineEdit()
        self.user_label.setPlaceholderText("label")
        for edit, share in ((self.user_url, 3), (self.user_key, 3), (self.user_label, 1)):
            edit.setMinimumWidth(40 * share)
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
        self.queue.itemSelectionChanged.connect(self.enable_actions)
        self.users.itemSelectionChanged.connect(self.enable_actions)
        self._waiting: int | None = None
        controller.monitor.event.connect(self._on_event)
        self.enable_actions()

    def enable_actions(self) -> None:
        """Actions apply to a selected row; with nothing selected they are off."""
        chosen = bool(self.queue.selectedItems())
        for button in (self.approve, self.edit, self.reject):
            button.setEnabled(chosen)
        self.remove_user.setEnabled(bool(self.users.selectedItems()))
        self.sync.setEnabled(self.users.count() > 0)
        self.queue_stack.setCurrentWidget(self.queue if self.queue.count() else self.queue_empty)
        self.users_stack.setCurrentWidget(self.users if self.users.count() else self.users_empty)

    def _on_event(self, event: dict[str, Any]) -> None:
        if str(event.get("kind", "")).startswith("memory.") and self.isVisible() and not self.showing_notice:
            self.reload_queue()

    def reload_queue(self) -> None:
        self.call(
            self.controller.client.get(MEMORY, status="pending"), self.show_queue, on_error=lambda _exc: None
        )

    def on_snapshot(self, snapshot: Snapshot) -> None:
        # The monitor counts the queue on every poll; a different count means it changed.
        waiting = snapshot.memory_waiting
        if waiting is not None and waiting != self._waiting:
            self._waiting = waiting
            self.reload_queue()

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
        self.enable_actions()

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
        self.enable_actions()

    def reviewed(self) -> None:
        self.reload()
        self.controller.monitor.refresh_soon()

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
                lambda _: self.reviewed(),
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
            lambda _: self.reviewed(),
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
