"""The Settings window: one native window, a list of pages on the left."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QWidget,
)

from roundhouse.desktop.windows.agents_page import AgentsPage
from roundhouse.desktop.windows.apps_page import AppsPage
from roundhouse.desktop.windows.common import Page
from roundhouse.desktop.windows.connection_page import ConnectionPage
from roundhouse.desktop.windows.hosts_page import HostsPage
from roundhouse.desktop.windows.images_page import ImagesPage
from roundhouse.desktop.windows.memory_page import MemoryPage
from roundhouse.desktop.windows.models_page import ModelsPage
from roundhouse.desktop.windows.popups_page import PopupsPage
from roundhouse.desktop.windows.providers_page import ProvidersPage
from roundhouse.desktop.windows.routing_page import RoutingPage

if TYPE_CHECKING:
    from roundhouse.desktop.controller import Controller

PAGES: dict[str, type[Page]] = {
    "providers": ProvidersPage,
    "routing": RoutingPage,
    "models": ModelsPage,
    "hosts": HostsPage,
    "images": ImagesPage,
    "apps": AppsPage,
    "agents": AgentsPage,
    "memory": MemoryPage,
    "popups": PopupsPage,
    "daemon": ConnectionPage,
}


# Small enough for a laptop screen split in two; pages scroll inside it.
MINIMUM_SIZE = (560, 400)


def scrolling(page: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(page)
    return area


def keep_buttons_natural(page: QWidget) -> None:
    """Buttons keep their natural width when the window grows, instead of stretching."""
    for button in page.findChildren(QPushButton):
        button.setSizePolicy(QSizePolicy.Policy.Maximum, button.sizePolicy().verticalPolicy())


class SettingsWindow(QWidget):
    def __init__(self, controller: Controller, icon: QIcon) -> None:
        super().__init__()
        self.setWindowTitle("Roundhouse Settings")
        self.setWindowIcon(icon)
        self.setMinimumSize(*MINIMUM_SIZE)
        self.resize(900, 620)
        self.nav = QListWidget()
        self.nav.setFixedWidth(170)
        self.stack = QStackedWidget()
        self.pages: dict[str, Page] = {}
        for name, page_class in PAGES.items():
            page = page_class(controller)
            self.pages[name] = page
            self.nav.addItem(page.title)
            keep_buttons_natural(page)
            self.stack.addWidget(scrolling(page))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        layout = QHBoxLayout(self)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.nav.setCurrentRow(0)

    def open_page(self, name: str) -> Page:
        self.nav.setCurrentRow(list(self.pages).index(name))
        page = self.pages[name]
        page.refresh()
        return page
