"""Settings at its smallest and at a large size: it scrolls instead of clipping, buttons keep
their width, and the screenshots show the pages (saved as artifacts)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QScrollArea, QWidget

from tests.desktop.conftest import DaemonProcess, save_screenshot

LARGE = (1260, 960)
LONG_MODEL = "qwen2.5-coder:32b-instruct-q4_K_M-with-a-long-tag"


def ready_settings(qtbot: Any, make_controller: Any, daemon: DaemonProcess) -> Any:
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    settings = controller.open_settings()
    qtbot.waitExposed(settings)
    return settings


def shown_texts(page: QWidget) -> list[QLabel | QPushButton]:
    widgets = [*page.findChildren(QLabel), *page.findChildren(QPushButton)]
    return [w for w in widgets if w.isVisible() and w.text().strip()]


def clipped(widget: QLabel | QPushButton) -> bool:
    if isinstance(widget, QLabel) and widget.wordWrap():
        return False
    metrics = widget.fontMetrics()
    needed = max(metrics.horizontalAdvance(line) for line in widget.text().replace("&", "").splitlines())
    return needed > widget.contentsRect().width()


def test_settings_shrinks_and_scrolls_without_clipping_a_label(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    settings = ready_settings(qtbot, make_controller, daemon)
    settings.resize(1, 1)
    qtbot.waitUntil(lambda: settings.width() < 735 and settings.height() < 601, timeout=5_000)
    smallest = (settings.width(), settings.height())
    for name, page in settings.pages.items():
        settings.open_page(name)
        qtbot.wait(400)
        QApplication.processEvents()
        area = settings.stack.currentWidget()
        assert isinstance(area, QScrollArea) and area.widget() is page, f"{name} does not scroll"
        cut = [f"{w.text()!r} ({type(w).__name__})" for w in shown_texts(page) if clipped(w)]
        assert not cut, f"{name} at {smallest}: clipped {cut}"
        save_screenshot(settings, artifacts, f"settings-min-{name}")


def test_settings_at_a_large_size_keeps_buttons_natural_and_model_names_on_one_line(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    settings = ready_settings(qtbot, make_controller, daemon)
    settings.resize(*LARGE)
    qtbot.waitUntil(lambda: settings.width() >= LARGE[0] - 20, timeout=5_000)
    for name, page in settings.pages.items():
        settings.open_page(name)
        qtbot.wait(400)
        QApplication.processEvents()
        stretched = [
            b.text()
            for b in page.findChildren(QPushButton)
            if b.isVisible() and b.width() > b.sizeHint().width() + 4
        ]
        assert not stretched, f"{name}: buttons stretched to the window's width: {stretched}"
        save_screenshot(settings, artifacts, f"settings-large-{name}")

    models = settings.open_page("models")
    snapshot = models.controller.monitor.snapshot
    residency = dict(snapshot.residency or {})
    residency["models"] = [
        {"id": LONG_MODEL, "backend": "ollama", "resident": True, "size_bytes": 20 * 1024**3}
    ]
    models.show_residency(dataclasses.replace(snapshot, residency=residency))
    QApplication.processEvents()
    table = models.table
    assert table.item(0, 0).text() == LONG_MODEL
    assert not table.wordWrap()
    needed = table.fontMetrics().horizontalAdvance(LONG_MODEL)
    assert table.columnWidth(0) >= needed, "the model's name fits its column on one line"
    unload = [b for b in table.cellWidget(0, 4).findChildren(QPushButton) if b.text() == "Unload"]
    assert unload and unload[0].contentsRect().width() >= unload[0].fontMetrics().horizontalAdvance("Unload")
