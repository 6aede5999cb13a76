"""Pulling a model from the Models & GPU page, editing the headroom, and stopping or restarting
a daemon the tray adopted: real daemons, the stand-in Ollama server over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.desktop.conftest import DaemonProcess, Desktop, save_screenshot
from tests.standins.ollama_server import OllamaStandin

GiB = 1024**3
PULLED = "llama3.2:1b"


@pytest.fixture(scope="module")
def ollama_daemon(
    desktop: Desktop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DaemonProcess, OllamaStandin]]:
    with OllamaStandin() as ollama:
        daemon = DaemonProcess(
            tmp_path_factory.mktemp("ollama-daemon-home"),
            {
                "ROUNDHOUSE_OLLAMA__HOSTS": json.dumps([ollama.url]),
                "ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false",
                "ROUNDHOUSE_RESIDENCY__ALLOW_CPU_SPILL": "true",
                "ROUNDHOUSE_RESIDENCY__PRELOAD": "false",
            },
        ).start()
        try:
            yield daemon, ollama
        finally:
            daemon.stop()


def models_page(qtbot: Any, make_controller: Any, url: str) -> tuple[Any, Any, Any]:
    controller = make_controller(url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    settings = controller.open_settings("models")
    page = settings.pages["models"]
    qtbot.waitUntil(lambda: page.pull.isEnabled(), timeout=10_000)
    return controller, settings, page


def test_pull_shows_progress_in_the_window_and_tooltip_and_the_model_arrives(
    qtbot: Any, ollama_daemon: tuple[DaemonProcess, OllamaStandin], make_controller: Any, artifacts: Path
) -> None:
    daemon, ollama = ollama_daemon
    ollama.pull_steps, ollama.pull_step_delay_s = 8, 0.15
    controller, settings, page = models_page(qtbot, make_controller, daemon.url)
    tooltips: list[str] = []
    controller.monitor.changed.connect(lambda _snapshot: tooltips.append(controller.tray.icon.toolTip()))

    page.pull_name.setText(PULLED)
    page.pull.click()
    assert page.pull_progress.isVisibleTo(page) and page.pull_cancel.isVisibleTo(page)
    assert not page.pull.isEnabled()
    qtbot.waitUntil(lambda: 0 < page.pull_progress.value() < 100, timeout=10_000)
    save_screenshot(settings, artifacts, "settings-models-pulling")
    qtbot.waitUntil(lambda: page.status.text() == f"Pulled {PULLED}", timeout=15_000)

    assert any(f"Pulling {PULLED}: " in tip and "%" in tip for tip in tooltips)
    assert not page.pull_progress.isVisibleTo(page) and page.pull.isEnabled()
    assert not controller.operations
    assert f"ollama/{PULLED}" in [m["id"] for m in daemon.get("/v1/models")["data"]]
    qtbot.waitUntil(lambda: page.choice.findText(f"ollama/{PULLED}") >= 0, timeout=10_000)


def test_cancelling_a_pull_stops_the_download(
    qtbot: Any, ollama_daemon: tuple[DaemonProcess, OllamaStandin], make_controller: Any
) -> None:
    daemon, ollama = ollama_daemon
    ollama.pull_steps, ollama.pull_step_delay_s = 400, 0.05
    cancelled = ollama.pulls_cancelled
    controller, _settings, page = models_page(qtbot, make_controller, daemon.url)

    page.pull_name.setText("qwen3:32b")
    page.pull.click()
    qtbot.waitUntil(lambda: page.pull_progress.value() > 0, timeout=10_000)
    page.pull_cancel.click()
    assert not controller.operations
    assert "Pulling" not in controller.tray.icon.toolTip()
    qtbot.waitUntil(lambda: ollama.pulls_cancelled == cancelled + 1, timeout=10_000)
    assert page.status.text() == "Cancelled the pull of qwen3:32b"
    assert not page.pull_progress.isVisibleTo(page) and page.pull.isEnabled()
    assert "qwen3:32b" not in [m.name for m in ollama.models]


def test_headroom_is_edited_in_the_window_and_applied_by_the_daemon(
    qtbot: Any, ollama_daemon: tuple[DaemonProcess, OllamaStandin], make_controller: Any
) -> None:
    daemon, _ollama = ollama_daemon
    _controller, _settings, page = models_page(qtbot, make_controller, daemon.url)
    spin = page.headroom_gb
    qtbot.waitUntil(lambda: spin.isEnabled() and spin.value() > 0, timeout=10_000)
    assert daemon.get("/control/v1/residency")["headroom_bytes"] == int(spin.value() * GiB)

    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "2.5")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: daemon.get("/control/v1/residency")["headroom_bytes"] == int(2.5 * GiB), timeout=10_000
    )
    qtbot.waitUntil(lambda: page.status.text() == "Headroom set to 2.5 GB", timeout=5_000)


def adopted(qtbot: Any, make_controller: Any, home: Path) -> tuple[DaemonProcess, Any]:
    running = DaemonProcess(home).start()
    controller = make_controller(running.url, supervise=True)
    qtbot.waitUntil(lambda: controller.supervisor.can_stop, timeout=15_000)
    assert not controller.supervisor.owned
    controller.tray.rebuild()
    return running, controller


def test_stop_in_the_menu_stops_an_adopted_daemon(
    qtbot: Any, desktop: Desktop, make_controller: Any, tmp_path: Path
) -> None:
    running, controller = adopted(qtbot, make_controller, tmp_path / "adopted")
    try:
        tray = controller.tray
        assert tray.actions["stop"].isEnabled() and tray.actions["restart"].isEnabled()
        tray.actions["stop"].trigger()
        qtbot.waitUntil(lambda: running.process.poll() is not None, timeout=30_000)
        assert running.process.returncode == 0, "a graceful exit"
        qtbot.waitUntil(lambda: tray.state == "stopped", timeout=10_000)
        # The monitor sees the daemon gone: the tray must not take that for a crash and start one.
        qtbot.wait(1500)
        assert controller.supervisor.state == "stopped" and controller.supervisor.process is None
        tray.rebuild()
        assert tray.actions["start"].isEnabled()
    finally:
        running.stop()


def test_restart_in_the_menu_replaces_an_adopted_daemon_with_a_child(
    qtbot: Any, desktop: Desktop, make_controller: Any, tmp_path: Path
) -> None:
    running, controller = adopted(qtbot, make_controller, tmp_path / "adopted")
    try:
        controller.tray.actions["restart"].trigger()
        qtbot.waitUntil(lambda: running.process.poll() is not None, timeout=30_000)
        qtbot.waitUntil(
            lambda: controller.supervisor.owned and controller.supervisor.state == "running", timeout=120_000
        )
        assert controller.supervisor.pid not in (None, running.process.pid)
        qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    finally:
        running.stop()
