"""A small stacked bar chart (spend per day, stacked by provider), painted with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from roundhouse.desktop.money import axis_top, usd

PALETTE = ["#2f6fd6", "#2e9e4f", "#d98e04", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"]


class StackedBars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.days: list[str] = []
        self.series: dict[str, list[float]] = {}
        self.setMinimumHeight(180)

    def set_data(self, days: list[str], series: dict[str, list[float]]) -> None:
        self.days, self.series = days, series
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(560, 220)

    def totals(self) -> list[float]:
        return [sum(values[i] for values in self.series.values()) for i in range(len(self.days))]

    def axis_top(self) -> float:
        """The value of the chart's top line, labelled on the axis: at or above the tallest bar."""
        return axis_top(max(self.totals(), default=0.0))

    def colour(self, index: int) -> QColor:
        return QColor(PALETTE[index % len(PALETTE)])

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        area = QRectF(self.rect()).adjusted(48, 10, -10, -40)
        p.setPen(QColor("#8a8f98"))
        p.drawLine(area.bottomLeft(), area.bottomRight())
        if not self.days:
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, "No spend recorded in this period.")
            p.end()
            return
        top = self.axis_top()
        p.drawText(QRectF(0, area.top() - 6, 44, 14), Qt.AlignmentFlag.AlignRight, usd(top))
        p.drawText(QRectF(0, area.bottom() - 8, 44, 14), Qt.AlignmentFlag.AlignRight, "$0")
        slot = area.width() / len(self.days)
        width = max(slot * 0.7, 1.0)
        for i, day in enumerate(self.days):
            x = area.left() + i * slot + (slot - width) / 2
            y = area.bottom()
            for index, values in enumerate(self.series.values()):
                height = area.height() * values[i] / top
                p.fillRect(QRectF(x, y - height, width, height), self.colour(index))
                y -= height
            if len(self.days) <= 10 or i % max(len(self.days) // 8, 1) == 0:
                p.setPen(QColor("#5b6069"))
                p.drawText(
                    QRectF(x - 20, area.bottom() + 2, width + 40, 14), Qt.AlignmentFlag.AlignHCenter, day[5:]
                )
        x = area.left()
        for index, name in enumerate(self.series):
            p.fillRect(QRectF(x, area.bottom() + 20, 10, 10), self.colour(index))
            p.setPen(QColor("#1f2328"))
            p.drawText(QRectF(x + 14, area.bottom() + 17, 120, 16), Qt.AlignmentFlag.AlignLeft, name)
            x += 130
        p.end()
