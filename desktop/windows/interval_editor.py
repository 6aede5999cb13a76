"""An interval in the units people use (minutes, hours, days), saved only when asked."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QSpinBox, QWidget

UNITS: dict[str, int] = {"minutes": 60, "hours": 3600, "days": 86400}


def in_units(seconds: float) -> tuple[int, str]:
    """The largest unit that shows `seconds` as a whole number (604800 s → 7 days)."""
    whole = max(60, round(seconds / 60) * 60)
    for unit in ("days", "hours"):
        if whole % UNITS[unit] == 0:
            return whole // UNITS[unit], unit
    return whole // 60, "minutes"


def spoken(seconds: float) -> str:
    count, unit = in_units(seconds)
    return f"{count} {unit[:-1] if count == 1 else unit}"


class IntervalEditor(QWidget):
    """A number, a unit and a Save button that lights up once the value differs from the saved one."""

    chosen = Signal(int)  # seconds, when the user presses Save

    def __init__(self, seconds: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(1, 999)
        self.unit = QComboBox()
        self.unit.addItems(list(UNITS))
        self.apply = QPushButton("Save")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.count)
        row.addWidget(self.unit)
        row.addWidget(self.apply)
        self.saved_s = 0
        self.set_seconds(seconds)
        self.count.valueChanged.connect(self._edited)
        self.unit.currentIndexChanged.connect(self._edited)
        self.count.lineEdit().returnPressed.connect(self._save)
        self.apply.clicked.connect(self._save)

    @property
    def seconds(self) -> int:
        return self.count.value() * UNITS[self.unit.currentText()]

    def set_seconds(self, seconds: float) -> None:
        count, unit = in_units(seconds)
        self.count.blockSignals(True)
        self.unit.blockSignals(True)
        self.unit.setCurrentText(unit)
        self.count.setValue(min(count, self.count.maximum()))
        self.count.blockSignals(False)
        self.unit.blockSignals(False)
        self.saved_s = self.seconds
        self._edited()

    def _edited(self) -> None:
        self.apply.setEnabled(self.seconds != self.saved_s)

    def _save(self) -> None:
        if self.seconds != self.saved_s:
            self.chosen.emit(self.seconds)
