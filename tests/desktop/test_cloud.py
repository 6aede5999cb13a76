"""Cloud use seen from the tray: a provider key tested with one token, the "cloud in use"
icon, and budget popups, against a daemon whose OpenAI provider is a stand-in server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import DaemonProcess
from tests.standins.openai_server import OpenAIStandin

CLOUD_MODEL = "openai/gpt-4o-mini"


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


def test_key_test_budget_popups_and_the_cloud_icon(
    qtbot: Any, cloud_daemon: tuple[DaemonProcess, OpenAIStandin], make_controller: Any
) -> None:
    daemon, standin = cloud_daemon
    controller = make_controller(daemon.url, popup_interval_s=0.0)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    shown: list[Any] = []
    controller.notifier.shown.connect(shown.append)

    page = controller.open_settings("providers").pages["providers"]
    qtbot.waitUntil(lambda: "openai" in page.rows and page.rows["openai"].save.isEnabled(), timeout=10_000)
    row = page.rows["openai"]
    row.key.setText("sk-standin-key-0000-7e2a")
    row.save.click()
    qtbot.waitUntil(lambda: "7e2a" in row.state.text(), timeout=15_000)
    row.test.click()
    qtbot.waitUntil(lambda: "the key works" in page.status.text(), timeout=30_000)
    assert standin.auth_headers and standin.auth_headers[-1].endswith("7e2a"), "the test call used the key"
    assert standin.requests[-1].get("max_tokens") == 1, "a one-token call"

    # A budget far below one request's cost: the next cloud request crosses 50, 80 and 100 %.
    daemon_patch = {"budget": {"daily_usd": 0.0000001}}
    import httpx

    assert (
        httpx.patch(f"{daemon.url}/control/v1/spend/budgets", json=daemon_patch, timeout=10).status_code
        == 200
    )
    reply = httpx.post(
        f"{daemon.url}/v1/chat/completions",
        json={"model": CLOUD_MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]},
        timeout=60,
    )
    assert reply.status_code == 200
    qtbot.waitUntil(lambda: controller.tray.state == "cloud", timeout=15_000)
    assert controller.tray.icon.icon().cacheKey() == controller.icons("cloud").cacheKey()
    qtbot.waitUntil(lambda: any(p.kind == "budget" for p in shown), timeout=15_000)
    budget = [p for p in shown if p.kind == "budget"]
    assert any("100 %" in p.title for p in budget) or any("50 %" in p.title for p in budget)
    assert "Today:" in controller.tray.icon.toolTip()
