"""Settings → Popups: which status popups the tray shows, and how often."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from roundhouse.desktop.prefs import POPUP_KINDS
from roundhouse.desktop.slots import bind_checked
from roundhouse.desktop.windows.common import Page


class PopupsPage(Page):
    title = "Popups"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        layout.addWidget(QLabel("Show a popup when:"))
        prefs = controller.prefs
        self.boxes: dict[str, QCheckBox] = {}
        for kind, text in POPUP_KINDS.items():
            box = QCheckBox(text)
            box.setChecked(prefs.popups.get(kind, True))
            box.toggled.connect(bind_checked(self.set_kind, kind))
            layout.addWidget(box)
            self.boxes[kind] = box
        form = QFormLayout()
        self.interval = QSpinBox()
        self.interval.setRange(0, 3600)
        self.interval.setSuffix(" s")
        self.interval.setValue(int(prefs.popup_interval_s))
        self.interval.valueChanged.connect(self.set_interval)
        form.addRow("At most one popup of a kind every", self.interval)
        layout.addLayout(form)
        layout.addStretch(1)

    def refresh(self) -> None:
        self.notice.hide()
        self._stack.setCurrentWidget(self.body)

    def set_kind(self, kind: str, on: bool) -> None:
        self.controller.prefs.popups[kind] = on
        self.controller.save_prefs()

    def set_interval(self, seconds: int) -> None:
        self.controller.prefs.popup_interval_s = float(seconds)
        self.controller.save_prefs()
