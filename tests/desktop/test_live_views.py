"""Views that stay current while open, and show nothing stale once the daemon stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.desktop.conftest import DaemonProcess

MODEL = "local/smollm2-135m"


def test_status_window_follows_new_requests_and_the_daemon_stopping(
    qtbot: Any, make_controller: Any, tmp_path: Path
) -> None:
    daemon = DaemonProcess(tmp_path / "daemon", {"ROUNDHOUSE_RESIDENCY__ALLOW_CPU_SPILL": "true"}).start()
    try:
        controller = make_controller(daemon.url)
        qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
        qtbot.waitUntil(lambda: controller.can_set_mode(), timeout=15_000)
        window = controller.show_status()
        qtbot.waitExposed(window)
        assert window.requests.rowCount() == 0
        for n in (1, 2):
            daemon.post(
                "/v1/chat/completions",
                {"model": MODEL, "messages": [{"role": "user", "content": f"Say {n}"}], "max_tokens": 2},
            )
            qtbot.waitUntil(lambda n=n: window.requests.rowCount() == n, timeout=15_000)
        tray = controller.tray
        assert tray.actions["mode:hybrid"].isEnabled()
        memory_was_offered = tray.actions["memory_review"].isEnabled()
        pause_was_offered = tray.actions["pause_agents"].isEnabled()
    finally:
        daemon.stop()

    qtbot.waitUntil(lambda: "daemon stopped" in window.summary.text(), timeout=15_000)
    assert window.requests.rowCount() == 0, "no rows from a daemon that is gone"
    actions = controller.tray.actions
    assert actions["header"].text().endswith("daemon stopped")
    assert not any(
        actions[f"mode:{m}"].isEnabled() for m in ("hybrid", "local", "cloud") if f"mode:{m}" in actions
    )
    assert not any(a.isChecked() for k, a in actions.items() if k.startswith("mode:"))
    assert not actions["pause_agents"].isEnabled() and not actions["memory_review"].isEnabled()
    assert memory_was_offered or pause_was_offered, "the daemon offered them while it ran"


def test_budget_window_counts_a_new_request_while_open_and_keeps_a_budget_being_typed(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    window = controller.open_budget()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.providers.text().startswith("This month by provider"), timeout=10_000)
    before = window.providers.text()
    window.daily.setValue(3.5)  # typed, not saved
    daemon.post(
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "Say budget"}], "max_tokens": 2},
    )
    qtbot.waitUntil(lambda: window.providers.text() != before, timeout=15_000)
    assert "request" in window.providers.text()
    assert window.daily.value() == 3.5, "a live refresh leaves the budget being edited alone"

    window.message_clear_s = 1.0
    window.save.click()
    qtbot.waitUntil(lambda: window.status.text() == "Budgets saved.", timeout=10_000)
    qtbot.waitUntil(lambda: window.status.text() == "", timeout=10_000)
