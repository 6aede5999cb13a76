"""The tray icon and its menu. Every action goes through the controller, which talks to the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from roundhouse.desktop.client import PULL
from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.popups import Popup
from roundhouse.desktop.routing_api import MODES
from roundhouse.desktop.slots import bind, bind_checked
from roundhouse.desktop.tray_text import model_line, tooltip, tray_state

if TYPE_CHECKING:
    from roundhouse.desktop.controller import Controller


class Tray:
    def __init__(self, controller: Controller, icon: QSystemTrayIcon | None = None) -> None:
        self.controller = controller
        self.icon = icon or QSystemTrayIcon(controller.icons("stopped"))
        self.menu = QMenu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.menu.aboutToShow.connect(self.rebuild)
        # Named actions of the current menu, for tests and for the status window.
        self.actions: dict[str, QAction] = {}
        self._submenus: list[QMenu] = []
        self._built_for: tuple[object, ...] | None = None
        self.state = "stopped"
        self.rebuild()

    def update(self, snapshot: Snapshot) -> None:
        self.state = tray_state(snapshot, self.controller.supervisor.state)
        self.icon.setIcon(self.controller.icons(self.state))
        self.icon.setToolTip(tooltip(snapshot, self.controller.supervisor.state))
        if not self.menu.isVisible() and self._menu_key() != self._built_for:
            self.rebuild()

    def _menu_key(self) -> tuple[object, ...]:
        """What the menu shows; it is rebuilt only when this changes."""
        s = self.controller.monitor.snapshot
        models = tuple(
            (m.get("id"), m.get("pinned"), m.get("size_vram"), m.get("size_bytes")) for m in s.loaded_models()
        )
        return (
            s.reachable,
            s.endpoint,
            s.mode,
            models,
            tuple(s.operations.items()),
            s.agents_paused,
            s.memory_waiting,
            tuple(sorted(s.capabilities.paths)),
            self.controller.supervisor.state,
            self.controller.supervisor.can_stop,
        )

    def show_popup(self, popup: Popup) -> None:
        level = (
            QSystemTrayIcon.MessageIcon.Warning if popup.warning else QSystemTrayIcon.MessageIcon.Information
        )
        self.icon.showMessage(popup.title, popup.message, level, 8000)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.controller.show_status()

    def _open_dashboard(self) -> None:
        QDesktopServices.openUrl(QUrl(self.controller.client.base_url + "/dashboard"))

    def _add(
        self, menu: QMenu, name: str, text: str, slot: object = None, *, enabled: bool = True, tip: str = ""
    ) -> QAction:
        action = menu.addAction(text)
        if slot is not None:
            action.triggered.connect(slot)
        action.setEnabled(enabled)
        if tip:
            action.setToolTip(tip)
        self.actions[name] = action
        return action

    def rebuild(self) -> None:
        c = self.controller
        snapshot = c.monitor.snapshot
        caps = snapshot.capabilities
        menu = self.menu
        self._built_for = self._menu_key()
        menu.clear()
        for sub in self._submenus:
            sub.deleteLater()
        self._submenus = []
        menu.setToolTipsVisible(True)
        self.actions = {}

        if snapshot.reachable:
            header = f"Roundhouse — {snapshot.endpoint}"
        else:
            header = (
                "Roundhouse — daemon starting…"
                if c.supervisor.state == "starting"
                else "Roundhouse — daemon stopped"
            )
        self._add(menu, "header", header, enabled=False)
        self._add(menu, "copy_endpoint", "Copy endpoint URL", c.copy_endpoint, enabled=snapshot.reachable)
        self._add(menu, "open_dashboard", "Open dashboard", self._open_dashboard, enabled=snapshot.reachable)
        menu.addSeparator()

        modes = menu.addMenu("Mode")
        self._submenus.append(modes)
        self.actions["mode_menu"] = modes.menuAction()
        group = QActionGroup(modes)
        can_set_mode = c.can_set_mode()
        for mode, label in MODES.items():
            action = self._add(
                modes,
                f"mode:{mode}",
                label,
                bind(c.set_mode, mode),
                enabled=can_set_mode,
                tip="" if can_set_mode else "This daemon cannot change the routing mode yet",
            )
            action.setCheckable(True)
            action.setChecked(snapshot.reachable and snapshot.mode == mode)
            group.addAction(action)

        loaded = snapshot.loaded_models() if snapshot.reachable else []
        if not loaded:
            self._add(menu, "no_models", "No models loaded", enabled=False)
        has_residency = caps.has("/control/v1/residency/unload", "post")
        for model in loaded:
            name = str(model["id"])
            sub = menu.addMenu(model_line(model))
            self._submenus.append(sub)
            self.actions[f"model:{name}"] = sub.menuAction()
            self._add(sub, f"unload:{name}", "Unload", bind(c.unload, name), enabled=has_residency)
            pin = self._add(
                sub,
                f"pin:{name}",
                "Pin (keep loaded)",
                bind_checked(c.set_pinned, name),
                enabled=has_residency,
            )
            pin.setCheckable(True)
            pin.setChecked(bool(model.get("pinned")))
        can_pull = snapshot.reachable and caps.has(PULL, "post")
        self._add(
            menu,
            "pull_model",
            "Pull model…",
            bind(c.open_settings, "models"),
            enabled=can_pull,
            tip="" if can_pull else "This daemon cannot pull models",
        )
        for key, text in snapshot.operations.items():
            self._add(menu, f"cancel:{key}", f"{text} — Cancel", bind(c.cancel_operation, key))
        menu.addSeparator()

        pause = self._add(
            menu,
            "pause_agents",
            "Pause background agents",
            c.pause_agents,
            enabled=c.can_pause_agents(),
            tip="" if c.can_pause_agents() else "Background agents are not enabled in this daemon",
        )
        pause.setCheckable(True)
        pause.setChecked(bool(snapshot.agents_paused))
        waiting = snapshot.memory_waiting
        self._add(
            menu,
            "memory_review",
            f"Memory review ({waiting} waiting)" if waiting is not None else "Memory review",
            bind(c.open_settings, "memory"),
            enabled=snapshot.memory_waiting is not None,
            tip="" if waiting is not None else "The memory curator is not enabled in this daemon",
        )
        self._add(menu, "settings", "Settings…", bind(c.open_settings))
        self._add(menu, "budget", "Budget…", c.open_budget)
        self._add(menu, "open_logs", "Open logs", c.open_logs)
        menu.addSeparator()

        state = c.supervisor.state
        self._add(
            menu,
            "start",
            "Start daemon",
            c.start_daemon,
            enabled=not snapshot.reachable and state != "starting",
        )
        stop_tip = (
            ""
            if c.supervisor.can_stop
            else "The daemon was started outside the tray app and cannot be stopped from here"
        )
        self._add(menu, "stop", "Stop daemon", c.stop_daemon, enabled=c.supervisor.can_stop, tip=stop_tip)
        self._add(
            menu, "restart", "Restart daemon", c.restart_daemon, enabled=c.supervisor.can_stop, tip=stop_tip
        )
        autostart = c.autostart()
        login = self._add(
            menu,
            "start_at_login",
            "Start at login",
            c.set_start_at_login,
            enabled=autostart is not None,
            tip="" if autostart is not None else "Start at login is not supported on this system",
        )
        login.setCheckable(True)
        login.setChecked(bool(autostart is not None and autostart.is_enabled()))
        menu.addSeparator()
        self._add(menu, "quit", "Quit", c.quit)
