"""The tray app as one object: the daemon client, monitor, supervisor, tray, popups and windows.

Everything the user does ends up here as a short method that starts an async daemon call
and returns at once, so the UI never waits on the daemon.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
from types import ModuleType
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from roundhouse.desktop import paths
from roundhouse.desktop.client import SHUTDOWN, ControlClient, ControlError
from roundhouse.desktop.icons import StateIcons
from roundhouse.desktop.monitor import AGENTS_PAUSE, AGENTS_RESUME, Monitor, Snapshot
from roundhouse.desktop.popups import Notifier, Popup
from roundhouse.desktop.prefs import Prefs
from roundhouse.desktop.progress import pull_percent, pull_text
from roundhouse.desktop.restart_policy import RestartPolicy
from roundhouse.desktop.routing_api import MODE, MODES, POLICY, write_method
from roundhouse.desktop.supervisor import Supervisor
from roundhouse.desktop.tasks import spawn
from roundhouse.desktop.tray import Tray

log = logging.getLogger(__name__)
AUTOSTART_MODULE = "roundhouse.desktop.autostart"


class Controller(QObject):
    def __init__(
        self,
        prefs: Prefs,
        *,
        tray_wait_s: float = 30.0,
        tray_icon: QSystemTrayIcon | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.tray_wait_s = tray_wait_s
        self.client = ControlClient(prefs.url(), token_file=paths.tray_token_file())
        self.monitor = Monitor(self.client, interval_s=prefs.poll_interval_s, parent=self)
        self.supervisor = Supervisor(
            self.client,
            policy=RestartPolicy(max_restarts=prefs.restart_max, window_s=prefs.restart_window_s),
            stop_timeout_s=prefs.stop_timeout_s,
            parent=self,
        )
        self.icons = StateIcons()
        self.tray = Tray(self, tray_icon)
        self.notifier = Notifier(prefs, self.tray.show_popup, parent=self)
        self.tray_available = False
        self.windows: dict[str, QWidget] = {}
        self.operations: dict[str, asyncio.Task[Any]] = {}
        # Percent done of each running operation that reports it (e.g. "pull:llama3.2:1b": 42).
        self.progress: dict[str, int | None] = {}
        # How each finished operation ended, for the window that started it: (text, failed).
        self.outcomes: dict[str, tuple[str, bool]] = {}
        self.messages: list[str] = []  # what the supervisor announced, newest last
        self._memory_waiting: int | None = None

        self.monitor.changed.connect(self._on_snapshot)
        self.monitor.event.connect(self.notifier.on_event)
        self.supervisor.state_changed.connect(self._on_supervisor_state)
        self.supervisor.announced.connect(self._on_announced)
        self.supervisor.restarting.connect(self._on_restarting)
        self.supervisor.gave_up.connect(self._on_gave_up)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._show_tray_when_ready(deadline=self.tray_wait_s)
        if self.prefs.supervise:
            spawn(self.supervisor.start(), lambda _ok: self.monitor.refresh_soon(), self._report)
        self.monitor.start()

    def _show_tray_when_ready(self, deadline: float) -> None:
        """Some desktops start their tray after the apps that use it: retry, then use a window."""
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray_available = True
            self.tray.icon.show()
            return
        if deadline <= 0:
            log.warning("no system tray found; showing the Roundhouse window instead")
            self.show_status()
            return
        QTimer.singleShot(1000, lambda: self._show_tray_when_ready(deadline - 1))

    async def shutdown(self) -> None:
        for task in self.operations.values():
            task.cancel()
        await self.monitor.stop()
        await self.supervisor.stop()
        try:
            await asyncio.wait_for(self.client.close(), timeout=5)
        except TimeoutError:
            log.warning("closing the daemon connection timed out")
        self.tray.icon.hide()

    def quit(self) -> None:
        def done(_: object = None) -> None:
            app = QApplication.instance()
            if app is not None:
                app.quit()

        spawn(self.shutdown(), done, lambda exc: (log.error("shutdown: %s", exc), done()))

    def save_prefs(self) -> None:
        try:
            self.prefs.save()
        except OSError as exc:
            log.warning("cannot save the tray settings: %s", exc)

    # -- what the daemon says ------------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self.supervisor.adopted_can_stop = snapshot.reachable and snapshot.capabilities.has(SHUTDOWN, "post")
        self.tray.update(snapshot)
        waiting = snapshot.memory_waiting
        if waiting and (self._memory_waiting is None or waiting > self._memory_waiting):
            self.notifier.notify(
                Popup("memory", "Memories to review", f"{waiting} memories are waiting for your review.")
            )
        self._memory_waiting = waiting
        if not snapshot.reachable and self.prefs.supervise:
            self.supervisor.lost_adopted()

    def _on_supervisor_state(self, _state: str) -> None:
        self._on_snapshot(self.monitor.snapshot)

    def _on_announced(self, text: str) -> None:
        log.info("%s", text)
        self.messages.append(text)
        del self.messages[:-50]

    def _on_restarting(self, attempt: int, delay: float) -> None:
        self.notifier.notify(
            Popup(
                "daemon",
                "Roundhouse daemon restarting",
                f"It stopped unexpectedly; restart {attempt} in {delay:.0f} s.",
            )
        )

    def _on_gave_up(self, how_it_ended: str, log_tail: str) -> None:
        from roundhouse.desktop.windows.crash_dialog import CrashDialog

        self.notifier.notify(
            Popup(
                "daemon",
                "Roundhouse daemon stopped",
                "It crashed repeatedly and was not restarted.",
                warning=True,
            )
        )
        dialog = CrashDialog(
            how_it_ended, log_tail, self.icons("stopped"), self.restart_daemon, self.open_logs
        )
        self.windows["crash"] = dialog
        dialog.show()
        dialog.raise_()

    def _report(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, ControlError) else f"{type(exc).__name__}: {exc}"
        log.warning("%s", message)
        self.messages.append(message)
        self.tray.icon.showMessage("Roundhouse", message, QSystemTrayIcon.MessageIcon.Warning, 6000)

    def _then_refresh(self, _: object = None) -> None:
        self.monitor.refresh_soon()

    # -- windows -------------------------------------------------------------------------------

    def _window(self, name: str) -> QWidget:
        if name not in self.windows:
            icon = self.icons("running")
            if name == "settings":
                from roundhouse.desktop.windows.settings import SettingsWindow

                self.windows[name] = SettingsWindow(self, icon)
            elif name == "budget":
                from roundhouse.desktop.windows.budget import BudgetWindow

                self.windows[name] = BudgetWindow(self, icon)
            else:
                from roundhouse.desktop.windows.status_window import StatusWindow

                self.windows[name] = StatusWindow(self, icon)
        return self.windows[name]

    @staticmethod
    def _bring_forward(window: QWidget) -> None:
        window.showNormal()
        window.raise_()
        window.activateWindow()

    def open_settings(self, page: str | None = None) -> QWidget:
        window = self._window("settings")
        self._bring_forward(window)
        if page is not None:
            window.open_page(page)  # type: ignore[attr-defined]
        return window

    def open_budget(self) -> QWidget:
        window = self._window("budget")
        self._bring_forward(window)
        return window

    def show_status(self) -> QWidget:
        window = self._window("status")
        self._bring_forward(window)
        return window

    def open_logs(self) -> None:
        target = self.supervisor.log_file
        if target.exists():
            note = Popup("daemon", "Daemon log", f"Opening {target}")
        else:
            target = paths.log_dir()
            target.mkdir(parents=True, exist_ok=True)
            note = Popup(
                "daemon",
                "No daemon log file",
                f"The daemon has written no log file at {self.supervisor.log_file} (a daemon started "
                f"outside the tray logs to its own console). Opening the log folder {target}.",
            )
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))
        if not opened:
            note = Popup("daemon", note.title, f"{note.message} No program opens it; the path is {target}.")
        self.tray.show_popup(note)

    def copy_endpoint(self) -> None:
        QGuiApplication.clipboard().setText(self.monitor.snapshot.endpoint or self.client.base_url)

    # -- daemon actions ------------------------------------------------------------------------

    def start_daemon(self) -> None:
        spawn(self.supervisor.start(), self._then_refresh, self._report)

    def stop_daemon(self) -> None:
        spawn(self.supervisor.stop_daemon(), self._then_refresh, self._report)

    def restart_daemon(self) -> None:
        spawn(self.supervisor.restart(), self._then_refresh, self._report)

    def can_set_mode(self) -> bool:
        caps = self.monitor.snapshot.capabilities
        return caps.has(MODE, "put") or write_method(caps) is not None

    def set_mode(self, mode: str) -> None:
        if mode not in MODES or not self.can_set_mode():
            return
        if self.monitor.snapshot.capabilities.has(MODE, "put"):
            spawn(self.client.put(MODE.format(mode=mode)), self._then_refresh, self._report)
            return
        method = write_method(self.monitor.snapshot.capabilities) or "patch"
        spawn(
            self.client.request(method.upper(), POLICY, json={"mode": mode}), self._then_refresh, self._report
        )

    def can_pause_agents(self) -> bool:
        snapshot = self.monitor.snapshot
        return snapshot.capabilities.has(AGENTS_PAUSE, "post") and snapshot.agents_paused is not None

    def pause_agents(self, paused: bool) -> None:
        path = AGENTS_PAUSE if paused else AGENTS_RESUME
        spawn(self.client.post(path), self._then_refresh, self._report)

    def unload(self, model: str) -> None:
        spawn(self.client.residency_action("unload", model, timeout_s=120), self._then_refresh, self._report)

    def set_pinned(self, model: str, pinned: bool) -> None:
        action = "pin" if pinned else "unpin"
        spawn(self.client.residency_action(action, model), self._then_refresh, self._report)

    def set_headroom(self, gb: float) -> None:
        """GPU memory the daemon leaves free for other apps; the running daemon applies it at once."""
        spawn(self.client.set_residency_settings(headroom_gb=gb), self._then_refresh, self._report)

    # -- long operations -----------------------------------------------------------------------

    def preload(self, model: str) -> str:
        """Load a model now, with progress in the window and the tray tooltip; cancellable."""
        key = f"load:{model}"
        if key in self.operations:
            return key
        self.monitor.set_operation(key, f"Loading {model}…")

        def finished(result: object = None) -> None:
            self.operations.pop(key, None)
            self.monitor.set_operation(key, None)
            self.monitor.refresh_soon()
            if isinstance(result, dict) and result.get("resident") is False:
                self._report(ControlError(409, f"{model} was not kept loaded; see Settings → Models & GPU"))

        def failed(exc: Exception) -> None:
            finished()
            self._report(exc)

        self.operations[key] = spawn(
            self.client.residency_action("preload", model, timeout_s=600), finished, failed
        )
        return key

    def pull_model(self, model: str) -> str:
        """Pull a model onto the Ollama host, with progress in the window and the tray tooltip;
        cancelling closes the stream, and the daemon then stops the download."""
        key = f"pull:{model}"
        if key in self.operations:
            return key
        self.progress[key] = None
        self.monitor.set_operation(key, pull_text(model, None, None))

        async def follow() -> None:
            async for part in self.client.pull_model(model):
                percent = pull_percent(part)
                if percent is not None:
                    self.progress[key] = percent
                self.monitor.set_operation(key, pull_text(model, part.get("status"), self.progress[key]))

        def finished(_: object = None) -> None:
            self.operations.pop(key, None)
            self.progress.pop(key, None)
            self.monitor.set_operation(key, None)
            self.monitor.refresh_soon()

        def pulled(_: object = None) -> None:
            self.outcomes[key] = (f"Pulled {model}", False)
            finished()
            self.notifier.notify(Popup("slow_model", "Model pulled", f"{model} is ready to use."))

        def failed(exc: Exception) -> None:
            message = exc.message if isinstance(exc, ControlError) else f"{type(exc).__name__}: {exc}"
            self.outcomes[key] = (f"The pull of {model} failed: {message}", True)
            finished()
            self._report(exc)

        self.operations[key] = spawn(follow(), pulled, failed)
        return key

    def cancel_operation(self, key: str) -> None:
        task = self.operations.pop(key, None)
        self.progress.pop(key, None)
        if task is not None and key.startswith("pull:"):
            self.outcomes[key] = (f"Cancelled the pull of {key[len('pull:') :]}", False)
        self.monitor.set_operation(key, None)
        if task is None:
            return
        task.cancel()
        if key.startswith("load:"):
            # The daemon finishes a load it has begun; undo it as soon as it is done.
            spawn(self._unload_when_loaded(key[len("load:") :]), self._then_refresh, self._report)

    async def _unload_when_loaded(self, model: str, attempts: int = 120) -> None:
        for _ in range(attempts):
            try:
                await self.client.residency_action("unload", model, timeout_s=60)
                return
            except ControlError as exc:
                if exc.status != 409:  # 409: not loaded (yet)
                    raise
            await asyncio.sleep(0.5)

    # -- start at login ------------------------------------------------------------------------

    def autostart(self) -> ModuleType | None:
        if importlib.util.find_spec(AUTOSTART_MODULE) is None:
            return None
        return importlib.import_module(AUTOSTART_MODULE)

    def set_start_at_login(self, on: bool) -> None:
        module = self.autostart()
        if module is None:
            return
        try:
            module.enable() if on else module.disable()
        except Exception as exc:
            self._report(exc)
        self.tray.rebuild()
