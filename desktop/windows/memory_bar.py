"""A horizontal bar of one memory pool: used by Roundhouse, used by other programs, free.

Each segment is named in a legend under the bar, next to a swatch of its colour, so the other
programs' share can never read as Roundhouse's.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from roundhouse.desktop.windows.common import human_bytes

COLOURS = {"roundhouse": QColor("#2e9e4f"), "others": QColor("#d98e04"), "free": QColor("#d9dde3")}
NAMES = {"roundhouse": "Roundhouse models", "others": "Other programs", "free": "Free"}


class MemoryBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.total = 0
        self.ours = 0
        self.others = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_usage(self, total: int, ours: int, others: int) -> None:
        self.total, self.ours, self.others = max(total, 0), max(ours, 0), max(others, 0)
        self.setToolTip(self.describe())
        self.update()

    @property
    def free(self) -> int:
        return max(self.total - self.ours - self.others, 0)

    def parts(self) -> list[tuple[str, int]]:
        return [("roundhouse", self.ours), ("others", self.others), ("free", self.free)]

    def describe(self) -> str:
        shares = " · ".join(f"{NAMES[part]} {human_bytes(value)}" for part, value in self.parts())
        return f"{shares} of {human_bytes(self.total)}"

    def sizeHint(self) -> QSize:
        return QSize(320, 16)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, 16)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(COLOURS["free"])
        p.drawRoundedRect(area, 4, 4)
        if self.total > 0:
            x = area.left()
            for part, value in self.parts()[:2]:
                width = area.width() * min(value / self.total, 1.0)
                p.setBrush(COLOURS[part])
                p.drawRect(QRectF(x, area.top(), width, area.height()))
                x += width
        p.end()


class MemoryPool(QWidget):
    """One pool: its name, the bar, and the legend naming each coloured segment."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLabel()
        self.bar = MemoryBar()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        for widget in (self.name, self.bar, self.legend):
            column.addWidget(widget)

    def set_usage(self, name: str, total: int, ours: int, others: int) -> None:
        self.name.setText(name)
        self.bar.set_usage(total, ours, others)
        swatches = [
            f'<span style="color:{COLOURS[part].name()}">■</span> {NAMES[part]} {human_bytes(value)}'
            for part, value in self.bar.parts()
        ]
        self.legend.setText("&nbsp;&nbsp; ".join(swatches) + f" &nbsp;of {human_bytes(total)}")
