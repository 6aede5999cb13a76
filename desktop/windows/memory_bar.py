"""A horizontal bar of one memory pool: used by Roundhouse, used by other programs, free."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from roundhouse.desktop.windows.common import human_bytes

COLOURS = {"roundhouse": QColor("#2e9e4f"), "others": QColor("#d98e04"), "free": QColor("#d9dde3")}


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

    def describe(self) -> str:
        return (
            f"Roundhouse {human_bytes(self.ours)} · other programs {human_bytes(self.others)} · "
            f"free {human_bytes(self.free)} of {human_bytes(self.total)}"
        )

    def sizeHint(self) -> QSize:
        return QSize(320, 22)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(COLOURS["free"])
        p.drawRoundedRect(area, 4, 4)
        if self.total > 0:
            x = area.left()
            for part, value in (("roundhouse", self.ours), ("others", self.others)):
                width = area.width() * min(value / self.total, 1.0)
                p.setBrush(COLOURS[part])
                p.drawRect(QRectF(x, area.top(), width, area.height()))
                x += width
        p.setPen(QColor("#1f2328"))
        p.drawText(
            area.adjusted(6, 0, -6, 0),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            self.describe(),
        )
        p.end()
