"""The tray for real: an X11 tray host under Xvfb, a real daemon, the real menu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QSystemTrayIcon

from tests.desktop.conftest import DaemonProcess, save_screenshot


def balloons() -> list[Any]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if w.metaObject().className() == "QBalloonTip" and w.isVisible()
    ]


def test_icon_shows_in_the_tray_host_with_the_daemon_state(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable(), "trayer should provide an X11 system tray"
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.tray.icon.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=10_000)
    qtbot.waitUntil(lambda: controller.tray.state in ("running", "degraded", "cloud"), timeout=10_000)
    # Embedded in the tray host: it has a place on the screen.
    qtbot.waitUntil(lambda: not controller.tray.icon.geometry().isEmpty(), timeout=10_000)
    tip = controller.tray.icon.toolTip()
    assert daemon.url in tip and "Mode:" in tip and "Loaded:" in tip


def test_menu_copies_the_endpoint_and_is_screenshotted(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=10_000)
    tray = controller.tray
    tray.rebuild()
    assert tray.actions["header"].text().endswith(daemon.url)
    tray.actions["copy_endpoint"].trigger()
    assert QGuiApplication.clipboard().text() == daemon.url
    tray.menu.popup(tray.icon.geometry().bottomLeft())
    qtbot.waitUntil(tray.menu.isVisible, timeout=5_000)
    save_screenshot(tray.menu, artifacts, "tray-menu")
    tray.menu.hide()


def test_a_conversation_kept_local_for_privacy_pops_up_once(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    import httpx

    controller = make_controller(daemon.url, popup_interval_s=0.0)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=10_000)
    qtbot.waitUntil(lambda: controller.monitor._seq is not None, timeout=10_000)
    shown: list[Any] = []
    controller.notifier.shown.connect(shown.append)
    body = {
        "model": "auto",
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "My email is jane.doe@example.com, please reply"}],
    }
    headers = {"X-OpenWebUI-Chat-Id": "conversation-7"}
    for _ in range(2):
        reply = httpx.post(f"{daemon.url}/v1/chat/completions", json=body, headers=headers, timeout=180)
        assert reply.status_code == 200
    qtbot.waitUntil(lambda: any(p.kind == "privacy" for p in shown), timeout=20_000)
    qtbot.wait(2 * int(controller.prefs.poll_interval_s * 1000))
    privacy = [p for p in shown if p.kind == "privacy"]
    assert len(privacy) == 1, "one popup per conversation"
    assert "pii.email" in privacy[0].message
    tips = balloons()
    assert tips, "the popup is on screen"
    save_screenshot(tips[0], artifacts, "popup-privacy")


def test_start_at_login_is_off_by_default_and_toggles_from_the_menu(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    controller = make_controller(daemon.url)
    tray = controller.tray
    tray.rebuild()
    action = tray.actions["start_at_login"]
    if controller.autostart() is None:
        assert not action.isEnabled() and action.toolTip()
        return
    assert action.isEnabled() and not action.isChecked(), "off by default"
    action.trigger()
    assert controller.autostart().is_enabled()
    assert list((tmp_path / "xdg-config" / "autostart").iterdir()), "a login entry was written"
    tray.rebuild()
    assert tray.actions["start_at_login"].isChecked()
    tray.actions["start_at_login"].trigger()
    assert not controller.autostart().is_enabled()


def test_menu_stops_and_starts_a_daemon_it_supervises(
    qtbot: Any, make_controller: Any, tray_home: Path
) -> None:
    from tests.standins.runner import free_port

    url = f"http://127.0.0.1:{free_port()}"
    controller = make_controller(url, supervise=True)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=120_000)
    tray = controller.tray
    qtbot.waitUntil(lambda: tray.state != "stopped", timeout=10_000)
    tray.rebuild()
    assert tray.actions["stop"].isEnabled() and not tray.actions["start"].isEnabled()
    tray.actions["stop"].trigger()
    qtbot.waitUntil(lambda: tray.state == "stopped", timeout=30_000)
    tray.rebuild()
    assert tray.actions["header"].text().endswith("daemon stopped")
    assert tray.actions["start"].isEnabled()
    tray.actions["start"].trigger()
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=120_000)
    assert controller.supervisor.owned


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toLocalFile())


def test_open_logs_opens_the_log_folder_or_file(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = make_controller(daemon.url)
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        controller.tray.rebuild()
        controller.tray.actions["open_logs"].trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert catcher.opened, "the desktop was asked to open the logs"
    opened = Path(catcher.opened[0])
    assert opened == controller.supervisor.log_file or opened == controller.supervisor.log_file.parent
    assert opened.exists()
    # This daemon was started outside the tray: it has no log file here, and the tray says so.
    qtbot.waitUntil(lambda: bool(balloons()), timeout=5_000)
    words = " ".join(label.text() for tip in balloons() for label in tip.findChildren(QLabel))
    assert "No daemon log file" in words and str(opened) in words
