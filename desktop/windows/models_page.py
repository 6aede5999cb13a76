"""Settings → Models & GPU: live memory per GPU, what is loaded, pin / unload / load."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.client import PULL, RESIDENCY_SETTINGS
from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.slots import bind
from roundhouse.desktop.windows.common import Page, fit_columns, human_bytes
from roundhouse.desktop.windows.memory_bar import MemoryPool

GiB = 1024**3


class ModelsPage(Page):
    title = "Models & GPU"
    required = "/control/v1/residency"
    capability_name = "GPU residency"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        self.source = QLabel()
        self.source.setWordWrap(True)
        layout.addWidget(self.source)
        self.bars_box = QVBoxLayout()
        layout.addLayout(self.bars_box)
        self.pools: list[MemoryPool] = []
        room = QHBoxLayout()
        self.headroom_gb = QDoubleSpinBox()
        self.headroom_gb.setRange(0.0, 256.0)
        self.headroom_gb.setSingleStep(0.5)
        self.headroom_gb.setDecimals(1)
        self.headroom_gb.setSuffix(" GB")
        self.headroom_gb.setKeyboardTracking(False)
        self.headroom_gb.setToolTip("GPU memory always left free for other apps; applied at once")
        self.headroom = QLabel()
        self.headroom.setWordWrap(True)
        room.addWidget(QLabel("Headroom kept free:"))
        room.addWidget(self.headroom_gb)
        room.addWidget(self.headroom, 1)
        layout.addLayout(room)
        self.headroom_gb.editingFinished.connect(self.on_headroom)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Model", "Backend", "Memory", "Pinned", ""])
        fit_columns(self.table)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(QLabel("Loaded models"))
        layout.addWidget(self.table, 1)

        load = QHBoxLayout()
        self.choice = QComboBox()
        self.load = QPushButton("Load")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.cancel = QPushButton("Cancel")
        self.cancel.hide()
        load.addWidget(QLabel("Load a local model:"))
        load.addWidget(self.choice, 1)
        load.addWidget(self.load)
        load.addWidget(self.progress)
        load.addWidget(self.cancel)
        layout.addLayout(load)
        self.load.clicked.connect(self.on_load)
        self.cancel.clicked.connect(self.on_cancel)

        pull = QHBoxLayout()
        self.pull_name = QLineEdit()
        self.pull_name.setPlaceholderText("e.g. llama3.2:1b")
        self.pull = QPushButton("Pull")
        self.pull_progress = QProgressBar()
        self.pull_progress.setRange(0, 100)
        self.pull_progress.hide()
        self.pull_cancel = QPushButton("Cancel")
        self.pull_cancel.hide()
        pull.addWidget(QLabel("Pull model through Ollama:"))
        pull.addWidget(self.pull_name, 1)
        pull.addWidget(self.pull)
        pull.addWidget(self.pull_progress)
        pull.addWidget(self.pull_cancel)
        layout.addLayout(pull)
        self.pull.clicked.connect(self.on_pull)
        self.pull_name.returnPressed.connect(self.on_pull)
        self.pull_cancel.clicked.connect(self.on_pull_cancel)
        self._pulling: str | None = None

    def reload(self) -> None:
        self.reload_choices()
        self.show_residency(self.controller.monitor.snapshot)
        self._show_pull(self.controller.monitor.snapshot)
        self.controller.monitor.refresh_soon()

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self.show_residency(snapshot)
        self._show_pull(snapshot)

    def show_choices(self, models: list[dict[str, Any]]) -> None:
        current = self.choice.currentText()
        self.choice.clear()
        names = [
            m["id"] for m in models if m.get("local") and not m.get("virtual") and m.get("kind") == "chat"
        ]
        self.choice.addItems(names)
        if current in names:
            self.choice.setCurrentText(current)

    def show_residency(self, snapshot: Snapshot) -> None:
        residency = snapshot.residency
        if residency is None:
            return
        gpus = residency.get("gpus") or []
        if gpus:
            self.source.setText(f"GPU memory read through {residency.get('source')}.")
            rows = [
                (
                    f"GPU {g.get('index')}: {g.get('name')}",
                    int(g.get("total_bytes") or 0),
                    int(g.get("used_by_roundhouse_bytes") or 0),
                    int(g.get("used_by_others_bytes") or 0),
                )
                for g in gpus
            ]
        else:
            self.source.setText(f"No GPU memory to show. {residency.get('detail', '')}")
            total = int(residency.get("ram_total_bytes") or 0)
            available = int(residency.get("ram_available_bytes") or 0)
            ours = sum(
                int(m.get("size_bytes") or 0) for m in residency.get("models", []) if m.get("resident")
            )
            rows = [("System RAM (models run from it)", total, ours, max(total - available - ours, 0))]
        while len(self.pools) < len(rows):
            pool = MemoryPool()
            self.bars_box.addWidget(pool)
            self.pools.append(pool)
        for pool, (name, total, ours, others) in zip(self.pools, rows, strict=False):
            pool.set_usage(name, total, ours, others)
        caps = snapshot.capabilities
        self.headroom_gb.setEnabled(caps.has(RESIDENCY_SETTINGS, "patch"))
        if not self.headroom_gb.hasFocus():
            self.headroom_gb.blockSignals(True)
            self.headroom_gb.setValue(int(residency.get("headroom_bytes") or 0) / GiB)
            self.headroom_gb.blockSignals(False)
        self.headroom.setText(
            f"room for models: {human_bytes(residency.get('capacity_bytes'))} · "
            f"loads {residency.get('loads', 0)}, evictions {residency.get('evictions', 0)}"
        )
        loaded = [m for m in residency.get("models", []) if m.get("resident")]
        self.table.setRowCount(len(loaded))
        for row, model in enumerate(loaded):
            name = str(model["id"])
            memory = human_bytes(model.get("size_vram") or model.get("size_bytes"))
            for column, text in enumerate(
                (name, model.get("backend", ""), memory, "yes" if model.get("pinned") else "")
            ):
                self.table.setItem(row, column, QTableWidgetItem(str(text)))
            self.table.setCellWidget(row, 4, self._actions(name, bool(model.get("pinned"))))
        self._show_operation(snapshot)

    def _actions(self, model: str, pinned: bool) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        pin = QPushButton("Unpin" if pinned else "Pin")
        unload = QPushButton("Unload")
        pin.clicked.connect(bind(self.controller.set_pinned, model, not pinned))
        unload.clicked.connect(bind(self.controller.unload, model))
        row.addWidget(pin)
        row.addWidget(unload)
        row.addStretch(1)
        return box

    def _show_operation(self, snapshot: Snapshot) -> None:
        busy = any(key.startswith("load:") for key in snapshot.operations)
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        self.load.setEnabled(not busy)

    def _show_pull(self, snapshot: Snapshot) -> None:
        key = f"pull:{self._pulling}" if self._pulling else None
        pulling = key is not None and key in snapshot.operations
        if key is not None and not pulling:
            self._pulling = None
            text, failed = self.controller.outcomes.pop(key, ("", False))
            self.say(text, error=failed)
            self.reload_choices()
        self.pull_progress.setVisible(pulling)
        self.pull_cancel.setVisible(pulling)
        self.pull.setEnabled(not pulling and snapshot.capabilities.has(PULL, "post"))
        self.pull_name.setEnabled(not pulling)
        if key is not None and pulling:
            percent = self.controller.progress.get(key)
            if percent is None:
                self.pull_progress.setRange(0, 0)  # busy, no size known yet
            else:
                self.pull_progress.setRange(0, 100)
                self.pull_progress.setValue(percent)
            self.pull_progress.setFormat("%p%")
            self.say(snapshot.operations[key])

    def reload_choices(self) -> None:
        self.call(self.controller.client.models(), self.show_choices)

    def on_pull(self) -> None:
        model = self.pull_name.text().strip()
        if not model or self._pulling:
            return
        self._pulling = model
        self.controller.pull_model(model)
        self._show_pull(self.controller.monitor.snapshot)

    def on_pull_cancel(self) -> None:
        if self._pulling:
            self.controller.cancel_operation(f"pull:{self._pulling}")

    def on_headroom(self) -> None:
        current = int((self.controller.monitor.snapshot.residency or {}).get("headroom_bytes") or 0) / GiB
        value = self.headroom_gb.value()
        if abs(value - current) >= 0.05:
            self.controller.set_headroom(value)
            self.say(f"Headroom set to {value:.1f} GB")

    def on_load(self) -> None:
        model = self.choice.currentText()
        if model:
            self.controller.preload(model)
            self._show_operation(self.controller.monitor.snapshot)

    def on_cancel(self) -> None:
        for key in list(self.controller.monitor.snapshot.operations):
            if key.startswith("load:"):
                self.controller.cancel_operation(key)
