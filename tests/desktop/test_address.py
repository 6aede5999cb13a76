"""The tray finds the daemon where the daemon's own config puts it, and Settings changes that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import DaemonProcess
from tests.standins.runner import free_port


def test_the_tray_follows_roundhouse_server_port(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDHOUSE_SERVER__PORT", str(daemon.port))
    controller = make_controller("")
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    assert controller.client.base_url == daemon.url
    page = controller.open_settings("daemon").pages["daemon"]
    assert page.address.text() == daemon.url
    assert "config file and environment" in page.hint.text()


def test_the_tray_follows_the_config_files_server_port(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, tray_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROUNDHOUSE_SERVER__PORT", raising=False)
    (tray_home / "config").mkdir(parents=True)
    (tray_home / "config" / "config.toml").write_text(f'[server]\nhost = "0.0.0.0"\nport = {daemon.port}\n')
    controller = make_controller("")
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    assert controller.client.base_url == daemon.url


def test_the_address_set_in_settings_is_used_and_saved(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, tray_home: Path
) -> None:
    from roundhouse.desktop.prefs import Prefs

    nobody = f"http://127.0.0.1:{free_port()}"
    controller = make_controller(nobody)
    qtbot.wait(1500)
    assert not controller.monitor.snapshot.reachable
    settings = controller.open_settings("daemon")
    qtbot.waitExposed(settings)
    page = settings.pages["daemon"]
    assert not page.showing_notice, "the address can be changed while no daemon answers"
    assert page.address.text() == nobody

    page.address.setText("not an address")
    page.save_button.click()
    assert "Enter an address" in page.status.text()
    assert Prefs.load().daemon_url != "not an address"

    page.address.setText(daemon.url + "/")
    page.save_button.click()
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    assert Prefs.load().daemon_url == daemon.url
    assert Prefs.load().url() == daemon.url

    page.reset_button.click()
    assert Prefs.load().daemon_url == ""
    assert page.address.text() == Prefs.load().url()


def test_an_80_percent_budget_popup_shows_right_after_the_50_percent_one(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = make_controller(daemon.url, popup_interval_s=60.0)
    shown: list[Any] = []
    controller.notifier.shown.connect(shown.append)

    def threshold(percent: int) -> dict[str, Any]:
        data = {"scope": "overall", "window": "daily", "period": "2026-12-04", "threshold": percent}
        return {"kind": "budget.threshold", "data": {**data, "spent_usd": percent / 100, "budget_usd": 1.0}}

    for percent in (50, 80, 80, 50, 100):
        controller.notifier.on_event(threshold(percent))
    assert [p.title for p in shown] == [
        "Overall daily budget at 50 %",
        "Overall daily budget at 80 %",
        "Overall daily budget at 100 %",
    ]
