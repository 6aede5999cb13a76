"""The supervisor against real `roundhoused` processes: start, crash and restart, give up, stop."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from roundhouse.desktop.client import ControlClient
from roundhouse.desktop.restart_policy import RestartPolicy
from roundhouse.desktop.supervisor import Supervisor
from tests.desktop.conftest import DaemonProcess, run, save_screenshot
from tests.standins.runner import free_port


@pytest.fixture
def supervised(qtbot: Any, aloop: Any, tray_home: Path) -> Any:
    made: list[Supervisor] = []

    def make(**policy: Any) -> Supervisor:
        client = ControlClient(f"http://127.0.0.1:{free_port()}")
        supervisor = Supervisor(client, policy=RestartPolicy(base_delay_s=0.2, **policy), stop_timeout_s=10)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        run(qtbot, supervisor.stop())
        run(qtbot, supervisor.client.close())


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_starts_a_child_restarts_it_after_a_crash_and_stops_it(qtbot: Any, supervised: Any) -> None:
    supervisor = supervised(max_restarts=3)
    assert run(qtbot, supervisor.start(), 120_000)
    assert supervisor.owned and supervisor.state == "running" and healthy(supervisor.client.base_url)
    assert supervisor.log_file.exists(), "the daemon writes its rotating log file"
    first = supervisor.pid
    assert first is not None

    restarts: list[tuple[int, float]] = []
    supervisor.restarting.connect(lambda attempt, delay: restarts.append((attempt, delay)))
    os.kill(first, signal.SIGKILL)
    qtbot.waitUntil(lambda: bool(restarts), timeout=10_000)
    assert restarts[0][0] == 1
    qtbot.waitUntil(
        lambda: supervisor.state == "running" and supervisor.pid not in (None, first), timeout=120_000
    )
    assert healthy(supervisor.client.base_url)

    child = supervisor.pid
    run(qtbot, supervisor.stop())
    assert supervisor.state == "stopped" and supervisor.pid is None
    assert not healthy(supervisor.client.base_url)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_past_the_cap_a_dialog_shows_the_log_tail_and_restarts(
    qtbot: Any, supervised: Any, make_controller: Any, artifacts: Path
) -> None:
    controller = make_controller("http://127.0.0.1:1")
    supervisor = supervised(max_restarts=0)
    # The controller's crash handling, wired to this supervisor.
    supervisor.gave_up.connect(controller._on_gave_up)
    assert run(qtbot, supervisor.start(), 120_000)
    os.kill(supervisor.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: "crash" in controller.windows, timeout=10_000)
    dialog = controller.windows["crash"]
    qtbot.waitExposed(dialog)
    assert supervisor.state == "failed"
    assert "Roundhouse" in dialog.log.toPlainText(), "the tail of the daemon's log"
    assert "killed by signal 9 (SIGKILL)" in dialog.message.text()
    save_screenshot(dialog, artifacts, "crash-dialog")
    dialog.close()


def test_the_crash_dialog_shows_the_exit_status_and_the_errors(
    qtbot: Any, supervised: Any, make_controller: Any, tray_home: Path
) -> None:
    controller = make_controller("http://127.0.0.1:1")
    supervisor = supervised(max_restarts=0)
    supervisor.gave_up.connect(controller._on_gave_up)
    (tray_home / "config").mkdir(parents=True, exist_ok=True)
    (tray_home / "config" / "config.toml").write_text('[residency]\nheadroom_gb = "lots"\n')
    assert not run(qtbot, supervisor.start(), 120_000)
    qtbot.waitUntil(lambda: "crash" in controller.windows, timeout=30_000)
    dialog = controller.windows["crash"]
    qtbot.waitExposed(dialog)
    assert "exited with status" in dialog.message.text()
    assert "exited with status 0" not in dialog.message.text()
    assert dialog.errors.isVisible() and "headroom_gb" in dialog.errors.toPlainText(), (
        dialog.log.toPlainText()
    )
    dialog.close()


def test_adopts_a_daemon_that_is_already_running(qtbot: Any, aloop: Any, daemon: DaemonProcess) -> None:
    supervisor = Supervisor(ControlClient(daemon.url))
    assert run(qtbot, supervisor.start())
    assert not supervisor.owned and supervisor.state == "running" and supervisor.pid is None
    assert not supervisor.can_stop
    run(qtbot, supervisor.stop())
    assert healthy(daemon.url), "an adopted daemon is left running"
    run(qtbot, supervisor.client.close())
