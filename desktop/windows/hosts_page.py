"""Settings → Hosts: the other machines that serve models, their state, and adding or removing one."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.hosts_api import (
    HOSTS,
    KINDS,
    ORIGINS,
    add_body,
    example_url,
    host_path,
    removable,
    rows_of,
)
from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.slots import bind
from roundhouse.desktop.windows.common import Page, fit_columns, human_bytes, in_cell

COLUMNS = ["Host", "URL", "Engine", "State", "Loaded", "Memory", "Queue", "Latency", ""]
REMOVE_COLUMN = len(COLUMNS) - 1
NO_HOSTS = (
    "No other hosts yet. Add a machine that runs Ollama, llama.cpp, llama-swap, LM Studio or vLLM "
    "below, and Roundhouse sends each request to the host best placed to answer it."
)
# A list read that has not answered in this long is taken as lost, and the next poll reads again.
STALE_READ_S = 10.0


def loaded_text(row: dict[str, Any]) -> str:
    loaded = [m for m in row.get("loaded") or [] if isinstance(m, dict)]
    if not loaded:
        return "none"
    return ", ".join(f"{m.get('model')} ({human_bytes(m.get('bytes'))})" for m in loaded)


def memory_text(row: dict[str, Any]) -> str:
    total, free = row.get("memory_total_bytes"), row.get("memory_free_bytes")
    if total is None and free is None:
        return "not reported"
    if total is None:
        return f"{human_bytes(free)} free"
    return f"{human_bytes(free)} free of {human_bytes(total)}"


def latency_text(row: dict[str, Any]) -> str:
    latency = row.get("latency_ms")
    return "–" if latency is None else f"{float(latency):.0f} ms"


def state_text(row: dict[str, Any]) -> str:
    state = str(row.get("state") or "unknown")
    detail = str(row.get("detail") or "")
    return f"{state}: {detail}" if detail and state != "up" else state


def host_tooltip(row: dict[str, Any]) -> str:
    lines = [ORIGINS.get(str(row.get("origin")), "")]
    if row.get("local") is False:
        lines.append("Outside your own network: private prompts never go there.")
    if row.get("has_key"):
        lines.append("Its API key is kept in the OS keyring.")
    return "\n".join(line for line in lines if line)


def engine_tooltip(row: dict[str, Any]) -> str:
    if row.get("driven"):
        return "Roundhouse loads and unloads models on it."
    return "It manages its own memory; Roundhouse reads what it has loaded."


class HostsPage(Page):
    title = "Hosts"
    required = HOSTS
    capability_name = "Fleet hosts"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        intro = QLabel("Where Roundhouse's models run: this machine and the hosts you add.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        fit_columns(self.table)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        layout.addWidget(self.table, 1)
        self.empty = QLabel(NO_HOSTS)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("empty")
        layout.addWidget(self.empty)

        form_box = QGroupBox("Add a host")
        form = QFormLayout(form_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.name = QLineEdit()
        self.name.setPlaceholderText("a short name, e.g. gpu-box")
        self.kind = QComboBox()
        for kind, label in KINDS.items():
            self.kind.addItem(label, kind)
        self.url = QLineEdit()
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("only if the server asks for one")
        self.key.setToolTip("Kept in the OS keyring, never in Roundhouse's files.")
        self.memory_gb = QDoubleSpinBox()
        self.memory_gb.setRange(0.0, 4096.0)
        self.memory_gb.setDecimals(1)
        self.memory_gb.setSuffix(" GB")
        self.memory_gb.setSpecialValueText("as reported")
        self.memory_gb.setToolTip(
            "How much memory its models may fill. Ollama, llama.cpp and llama-swap do not report "
            "it: given a value, Roundhouse unloads idle models there to make room; without one, "
            "the engine decides."
        )
        self.remote = QCheckBox("Outside my own network")
        self.remote.setToolTip("Private prompts never go to a host outside your own network.")
        form.addRow("Name", self.name)
        form.addRow("Engine", self.kind)
        form.addRow("URL", self.url)
        form.addRow("API key", self.key)
        form.addRow("Memory", self.memory_gb)
        form.addRow("", self.remote)
        buttons = QHBoxLayout()
        self.add = QPushButton("Add host")
        buttons.addWidget(self.add)
        buttons.addStretch(1)
        form.addRow("", buttons)
        layout.addWidget(form_box)

        self._rows: list[dict[str, Any]] | None = None
        self._reading_since: float | None = None
        self.show_example_url()
        self.kind.currentIndexChanged.connect(self.show_example_url)
        self.add.clicked.connect(self.on_add)
        self.url.returnPressed.connect(self.on_add)
        controller.monitor.event.connect(self._on_event)
        self.show_hosts({"hosts": []})

    def show_example_url(self) -> None:
        self.url.setPlaceholderText(example_url(str(self.kind.currentData())))

    # -- reading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self._read(self.fail_or_missing)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        # States, loaded models and queues change on their own: read again on each poll.
        busy = self._reading_since is not None and time.monotonic() - self._reading_since < STALE_READ_S
        if not busy:
            self._read(lambda _exc: None)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("kind", ""))
        if kind.startswith(("fleet.", "host.", "hosts.")) and self.isVisible() and not self.showing_notice:
            self._read(lambda _exc: None)

    def _read(self, on_error: Any) -> None:
        self._reading_since = time.monotonic()

        def failed(exc: Exception) -> None:
            self._reading_since = None
            on_error(exc)

        self.call(self.controller.client.get(HOSTS), self._read_done, on_error=failed)

    def _read_done(self, data: Any) -> None:
        self._reading_since = None
        self.show_hosts(data)

    def show_hosts(self, data: Any) -> None:
        rows = rows_of(data)
        if rows == self._rows:
            return  # nothing changed: leave the table (and any hovered button) alone
        self._rows = rows
        self.table.setRowCount(len(rows))
        for row, host in enumerate(rows):
            name = str(host.get("name", ""))
            cells = (
                name,
                str(host.get("url", "")),
                KINDS.get(str(host.get("kind")), str(host.get("kind", ""))),
                state_text(host),
                loaded_text(host),
                memory_text(host),
                str(int(host.get("queue") or 0)),
                latency_text(host),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            self.table.item(row, 0).setToolTip(host_tooltip(host))
            self.table.item(row, 2).setToolTip(engine_tooltip(host))
            self.table.item(row, 3).setToolTip(str(host.get("detail") or ""))
            models = [str(m) for m in host.get("models") or []]
            self.table.item(row, 4).setToolTip("Models it offers: " + ", ".join(models) if models else "")
            self._show_remove(row, host)
        self.table.setVisible(bool(rows))
        self.empty.setVisible(all(h.get("origin") == "built-in" for h in rows))

    def _show_remove(self, row: int, host: dict[str, Any]) -> None:
        """Keep the row's button while it is for the same host, so a poll never takes it from
        under the pointer."""
        key = f"remove-{host.get('name')}-{host.get('origin')}"
        current = self.table.cellWidget(row, REMOVE_COLUMN)
        if current is None or current.objectName() != key:
            box = self._remove_button(host)
            box.setObjectName(key)
            self.table.setCellWidget(row, REMOVE_COLUMN, box)

    def _remove_button(self, host: dict[str, Any]) -> QWidget:
        name = str(host.get("name", ""))
        remove = QPushButton("Remove")
        if removable(host):
            remove.setToolTip(f"Stop using {name} and delete its stored API key.")
            remove.clicked.connect(bind(self.on_remove, name))
        else:
            remove.setEnabled(False)
            remove.setToolTip(ORIGINS.get(str(host.get("origin")), "This host cannot be removed here."))
        return in_cell(remove)

    def row_of(self, name: str) -> int | None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == name:
                return row
        return None

    # -- changing ------------------------------------------------------------------------------

    def on_add(self) -> None:
        name, url = self.name.text().strip(), self.url.text().strip()
        if not name or not url:
            self.say("Give the host a name and the URL its engine answers on.", error=True)
            return
        body = add_body(
            name,
            url,
            str(self.kind.currentData()),
            api_key=self.key.text(),
            memory_gb=self.memory_gb.value(),
            local=not self.remote.isChecked(),
        )
        self.add.setEnabled(False)

        def added(answer: Any) -> None:
            self.add.setEnabled(True)
            host = answer.get("host") if isinstance(answer, dict) else None
            state = str(host.get("state")) if isinstance(host, dict) and host.get("state") else ""
            for edit in (self.name, self.url, self.key):
                edit.clear()
            self.memory_gb.setValue(0.0)
            self.remote.setChecked(False)
            self.say(f"Added {body['name']}" + (f" ({state})." if state else "."))
            self.reload()

        def refused(exc: Exception) -> None:
            self.add.setEnabled(True)
            self.fail(exc)

        self.call(
            self.controller.client.post(HOSTS, body, timeout_s=30.0),
            added,
            busy=f"Adding {body['name']}…",
            on_error=refused,
        )

    def on_remove(self, name: str) -> None:
        self.call(
            self.controller.client.delete(host_path(name)),
            lambda _: self.reload(),
            busy=f"Removing {name}…",
            done=f"Removed {name}.",
        )
