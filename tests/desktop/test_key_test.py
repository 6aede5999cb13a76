"""Testing a key says which of three things happened, and the status line clears itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import DaemonProcess
from tests.standins.openai_server import OpenAIStandin


@pytest.fixture
def cloud_daemon(desktop: Any, tmp_path: Path) -> Iterator[tuple[DaemonProcess, OpenAIStandin]]:
    standin = OpenAIStandin(models=["gpt-4o-mini"]).start()
    env = {
        "ROUNDHOUSE_CLOUD__API_BASE": json.dumps({"openai": standin.url}),
        "ROUNDHOUSE_CLOUD__MODELS": json.dumps({"openai": ["gpt-4o-mini"]}),
    }
    running = DaemonProcess(tmp_path / "cloud-home", env).start()
    yield running, standin
    running.stop()
    standin.stop()


def test_key_test_tells_a_rejected_key_from_an_unreachable_provider(
    qtbot: Any, cloud_daemon: tuple[DaemonProcess, OpenAIStandin], make_controller: Any
) -> None:
    daemon, standin = cloud_daemon
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    page = controller.open_settings("providers").pages["providers"]
    page.message_clear_s = 1.0
    qtbot.waitUntil(lambda: "openai" in page.rows and page.rows["openai"].save.isEnabled(), timeout=10_000)
    row = page.rows["openai"]
    row.key.setText("sk-standin-key-0000-7e2a")
    row.save.click()
    qtbot.waitUntil(lambda: "7e2a" in row.state.text(), timeout=15_000)

    row.test.click()
    qtbot.waitUntil(lambda: "the key works" in page.status.text(), timeout=30_000)
    qtbot.waitUntil(lambda: page.status.text() == "", timeout=10_000)

    standin.failures.append((401, "Incorrect API key provided: sk-stan****7e2a"))
    row.test.click()
    qtbot.waitUntil(lambda: "rejected the key" in page.status.text(), timeout=30_000)

    standin.stop()
    row.test.click()
    qtbot.waitUntil(lambda: "could not be reached" in page.status.text(), timeout=60_000)
    assert "rejected" not in page.status.text()
