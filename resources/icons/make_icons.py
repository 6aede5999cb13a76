"""Draw the tray icons: one per daemon state, at every size the platforms ask for.

Run `python resources/icons/make_icons.py` to regenerate the PNG, ICO and ICNS files next to it.
Each state has its own colour and mark, so it reads at 16 px and for colour-blind users:
running (green, full ring), degraded (amber, ring with a gap and a bar), stopped (grey,
hollow), cloud in use (blue, with a cloud).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen

HERE = Path(__file__).resolve().parent
STATES: dict[str, str] = {
    "running": "#2e9e4f",
    "degraded": "#d98e04",
    "stopped": "#7a7f87",
    "cloud": "#2f6fd6",
}
# Linux trays use 16/22/24/32/48, Windows 16..256; 512 completes a macOS .iconset.
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def draw(state: str, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    colour = QColor(STATES[state])
    margin = s * 0.06
    disc = QRectF(margin, margin, s - 2 * margin, s - 2 * margin)
    centre = disc.center()

    if state == "stopped":
        p.setPen(QPen(colour, max(1.5, s * 0.1)))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(disc.adjusted(s * 0.05, s * 0.05, -s * 0.05, -s * 0.05))
    else:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(colour))
        p.drawEllipse(disc)

    # The turntable: a white ring and a track across it.
    white = QColor("#ffffff") if state != "stopped" else colour
    ring = disc.adjusted(s * 0.2, s * 0.2, -s * 0.2, -s * 0.2)
    p.setPen(QPen(white, max(1.2, s * 0.08), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.setBrush(Qt.BrushStyle.NoBrush)
    if state == "degraded":
        p.drawArc(ring, 60 * 16, 300 * 16)
    else:
        p.drawEllipse(ring)
    p.drawLine(QPointF(centre.x() - s * 0.22, centre.y()), QPointF(centre.x() + s * 0.22, centre.y()))
    if state == "degraded":
        bar = QPen(QColor("#ffffff"), max(1.5, s * 0.1), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        p.setPen(bar)
        p.drawLine(QPointF(centre.x(), centre.y() - s * 0.3), QPointF(centre.x(), centre.y() - s * 0.12))

    if state == "cloud":
        cloud = QPainterPath()
        cloud.setFillRule(Qt.FillRule.WindingFill)
        cw, ch = s * 0.5, s * 0.3
        x0, y0 = s - cw - margin * 0.2, s - ch - margin * 0.2
        cloud.addRoundedRect(QRectF(x0, y0 + ch * 0.4, cw, ch * 0.6), ch * 0.3, ch * 0.3)
        cloud.addEllipse(QRectF(x0 + cw * 0.15, y0 + ch * 0.1, cw * 0.4, ch * 0.7))
        cloud.addEllipse(QRectF(x0 + cw * 0.4, y0, cw * 0.45, ch * 0.8))
        p.setPen(QPen(colour, max(1.0, s * 0.04)))
        p.setBrush(QBrush(QColor("#ffffff")))
        p.drawPath(cloud.simplified())
    p.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for state in STATES:
        for size in PNG_SIZES:
            draw(state, size).save(str(HERE / f"{state}-{size}.png"))
        # Qt's ICO writer takes one image; the largest keeps the best quality when scaled.
        draw(state, 256).save(str(HERE / f"{state}.ico"))
        draw(state, 512).save(str(HERE / f"{state}.icns"))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
