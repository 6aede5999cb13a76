"""Settings → Agents: background agents, their schedule, last results, and Run now."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.monitor import AGENTS
from roundhouse.desktop.slots import bind, bind_checked
from roundhouse.desktop.windows.common import Page, fit_columns, in_cell, usd
from roundhouse.desktop.windows.interval_editor import IntervalEditor, spoken


def last_result(agent: dict[str, Any]) -> str:
    result = agent.get("last_result")
    if not isinstance(result, dict):
        return "never run"
    when = result.get("finished") or result.get("started")
    stamp = time.strftime("%m-%d %H:%M", time.localtime(float(when))) if when else ""
    parts = [stamp, str(result.get("status") or "")]
    if result.get("error"):
        parts.append(str(result["error"]))
    elif result.get("insights") is not None:
        count = result["insights"]
        parts.append(f"{len(count) if isinstance(count, list) else count} insights")
    if result.get("cost_usd"):
        parts.append(usd(result["cost_usd"]))
    return " · ".join(p for p in parts if p)


def bind_seconds(function: Any, name: str) -> Any:
    def slot(seconds: int) -> None:
        function(name, seconds)

    return slot


class AgentsPage(Page):
    title = "Agents"
    required = AGENTS
    capability_name = "Background agents"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        layout.addWidget(QLabel("Agents run in idle time, behind every interactive request."))
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Agent", "Enabled", "Runs every", "Last result", ""])
        fit_columns(self.table)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table, 1)

    def reload(self) -> None:
        self.call(self.controller.client.get(AGENTS), self.show_agents, on_error=self.fail_or_missing)

    def show_agents(self, data: dict[str, Any]) -> None:
        agents = [a for a in data.get("agents", []) if isinstance(a, dict)]
        self.table.setRowCount(len(agents))
        for row, agent in enumerate(agents):
            name = str(agent.get("name"))
            item = QTableWidgetItem(name)
            item.setToolTip(str(agent.get("description") or ""))
            self.table.setItem(row, 0, item)
            enabled = QCheckBox()
            enabled.setChecked(bool(agent.get("enabled", True)))
            enabled.toggled.connect(bind_checked(self.set_enabled, name))
            self.table.setCellWidget(row, 1, enabled)
            self._show_every(row, name, float(agent.get("every_s") or 3600))
            self.table.setItem(row, 3, QTableWidgetItem(last_result(agent)))
            run = QPushButton("Running…" if agent.get("running") else "Run now")
            run.setEnabled(not agent.get("running"))
            run.clicked.connect(bind(self.run_now, name))
            self.table.setCellWidget(row, 4, in_cell(run))

    def _show_every(self, row: int, name: str, seconds: float) -> None:
        """Keep the row's editor when it is the same agent, so a refresh never drops an edit."""
        current = self.table.cellWidget(row, 2)
        if isinstance(current, IntervalEditor) and current.objectName() == name:
            if not current.apply.isEnabled():
                current.set_seconds(seconds)
            return
        every = IntervalEditor(seconds)
        every.setObjectName(name)
        every.chosen.connect(bind_seconds(self.set_every, name))
        self.table.setCellWidget(row, 2, every)

    def _saved(self, name: str, seconds: int) -> None:
        for row in range(self.table.rowCount()):
            editor = self.table.cellWidget(row, 2)
            if isinstance(editor, IntervalEditor) and editor.objectName() == name:
                editor.set_seconds(seconds)
        self.reload()

    def _patch(self, name: str, body: dict[str, Any]) -> None:
        self.call(self.controller.client.patch(f"{AGENTS}/{name}", body), lambda _: self.reload())

    def set_enabled(self, name: str, on: bool) -> None:
        self._patch(name, {"enabled": on})

    def set_every(self, name: str, seconds: int) -> None:
        self.call(
            self.controller.client.patch(f"{AGENTS}/{name}", {"every_s": seconds}),
            bind(self._saved, name, seconds),
            done=f"{name} now runs every {spoken(seconds)}.",
        )

    def run_now(self, name: str) -> None:
        self.call(
            self.controller.client.post(f"{AGENTS}/{name}/run", timeout_s=600.0),
            lambda _: self.reload(),
            busy=f"Running {name}…",
            done=f"{name} ran.",
        )
