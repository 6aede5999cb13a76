"""Settings → Hosts: every host with its state, what it has loaded and its memory; a host added
through the form is used by the daemon, and only added hosts can be removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from PySide6.QtWidgets import QPushButton

from roundhouse.desktop.windows.hosts_page import HostsPage
from tests.desktop.conftest import DaemonProcess, run, save_screenshot
from tests.standins.ollama_server import OllamaStandin
from tests.standins.runner import free_port

GiB = 1024**3
HOSTS = "/control/v1/hosts"
KEY = "sk-host-page-test-0123456789-LMNO"


def row(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "gpu-box",
        "url": "http://gpu-box.local:11434",
        "kind": "ollama",
        "local": True,
        "origin": "added",
        "state": "up",
        "detail": "",
        "loaded": [],
        "models": [],
        "memory_total_bytes": None,
        "memory_free_bytes": None,
        "queue": 0,
        "latency_ms": None,
        "driven": True,
        "has_key": False,
    }
    return {**base, **fields}


def cell(page: HostsPage, name: str, column: str) -> str:
    index = page.row_of(name)
    assert index is not None, f"{name} is not listed"
    return page.table.item(index, ["Host", "URL", "Engine", "State", "Loaded", "Memory"].index(column)).text()


def remove_button(page: HostsPage, name: str) -> QPushButton:
    index = page.row_of(name)
    assert index is not None, f"{name} is not listed"
    button = page.table.cellWidget(index, page.table.columnCount() - 1).findChild(QPushButton)
    assert isinstance(button, QPushButton)
    return button


def test_each_host_shows_its_state_models_and_memory_and_only_added_ones_can_go(
    qtbot: Any, make_controller: Any
) -> None:
    # No daemon here: the page is fed the rows the control API answers with.
    controller = make_controller(f"http://127.0.0.1:{free_port()}")
    page = HostsPage(controller)
    qtbot.addWidget(page)
    assert page.table.isHidden() and not page.empty.isHidden()
    assert "No other hosts yet" in page.empty.text()

    page.show_hosts(
        {
            "hosts": [
                row(
                    name="gpu-box",
                    loaded=[{"model": "llama3.1:8b", "bytes": 5 * GiB}],
                    models=["llama3.1:8b", "qwen2.5:7b"],
                    queue=2,
                    latency_ms=12.4,
                    has_key=True,
                ),
                row(
                    name="rented",
                    url="https://vllm.example.com",
                    kind="vllm",
                    local=False,
                    origin="config",
                    state="down",
                    detail="connection refused",
                    memory_total_bytes=80 * GiB,
                    memory_free_bytes=20 * GiB,
                    driven=False,
                ),
                row(name="embedded", url="in-process", kind="llamacpp", origin="built-in", state="unknown"),
            ]
        }
    )
    assert not page.table.isHidden() and page.empty.isHidden()
    assert cell(page, "gpu-box", "State") == "up"
    assert cell(page, "gpu-box", "Loaded") == "llama3.1:8b (5.0 GB)"
    assert cell(page, "gpu-box", "Memory") == "not reported"
    assert page.table.item(page.row_of("gpu-box") or 0, 6).text() == "2"
    assert page.table.item(page.row_of("gpu-box") or 0, 7).text() == "12 ms"
    assert "qwen2.5:7b" in page.table.item(page.row_of("gpu-box") or 0, 4).toolTip()
    assert "keyring" in page.table.item(page.row_of("gpu-box") or 0, 0).toolTip()

    assert cell(page, "rented", "Engine") == "vLLM"
    assert cell(page, "rented", "State") == "down: connection refused"
    assert cell(page, "rented", "Loaded") == "none"
    assert cell(page, "rented", "Memory") == "20.0 GB free of 80.0 GB"
    assert "private prompts never go there" in page.table.item(page.row_of("rented") or 0, 0).toolTip()

    assert remove_button(page, "gpu-box").isEnabled()
    for name, why in (("rented", "config.toml"), ("embedded", "cannot be removed")):
        button = remove_button(page, name)
        assert not button.isEnabled() and why in button.toolTip()

    # This machine alone: listed, with a word on adding the others.
    page.show_hosts({"hosts": [row(name="embedded", url="in-process", origin="built-in")]})
    assert not page.table.isHidden() and not page.empty.isHidden()
    page.show_hosts({"hosts": []})
    assert page.table.isHidden() and not page.empty.isHidden()


def test_a_host_added_in_the_form_is_listed_up_and_removed(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    with OllamaStandin() as standin:
        # Ollama loads a model when asked to generate from an empty prompt.
        httpx.post(
            f"{standin.url}/api/generate", json={"model": "llama3.1:8b"}, timeout=10
        ).raise_for_status()
        controller = make_controller(daemon.url)
        qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
        page = controller.open_settings("hosts").pages["hosts"]
        qtbot.waitUntil(lambda: not page.showing_notice, timeout=10_000)
        try:
            page.name.setText("gpu-box")
            page.url.setText("ftp://gpu-box.local")
            page.add.click()
            qtbot.waitUntil(lambda: "http:// or https://" in page.status.text(), timeout=15_000)
            assert page.row_of("gpu-box") is None
            assert all(h["name"] != "gpu-box" for h in daemon.get(HOSTS)["hosts"])

            page.url.setText(standin.url)
            page.kind.setCurrentIndex(page.kind.findData("ollama"))
            page.key.setText(KEY)
            page.add.click()
            qtbot.waitUntil(lambda: page.row_of("gpu-box") is not None, timeout=20_000)
            qtbot.waitUntil(lambda: cell(page, "gpu-box", "State") == "up", timeout=20_000)
            qtbot.waitUntil(lambda: "llama3.1:8b" in cell(page, "gpu-box", "Loaded"), timeout=20_000)
            assert page.key.text() == "" and page.name.text() == ""
            listed = next(h for h in daemon.get(HOSTS)["hosts"] if h["name"] == "gpu-box")
            assert listed["origin"] == "added" and listed["has_key"] and KEY not in str(listed)
            shown = [
                page.table.item(r, c).text() + page.table.item(r, c).toolTip()
                for r in range(page.table.rowCount())
                for c in range(page.table.columnCount() - 1)
            ]
            assert not any(KEY in text for text in shown)
            built_in = [h["name"] for h in daemon.get(HOSTS)["hosts"] if h["origin"] != "added"]
            for name in built_in:
                assert not remove_button(page, name).isEnabled()
            save_screenshot(page.window(), artifacts, "settings-hosts")

            page.name.setText("gpu-box")
            page.url.setText(standin.url)
            page.add.click()
            qtbot.waitUntil(lambda: "exists already" in page.status.text(), timeout=15_000)
            remove_button(page, "gpu-box").click()
            qtbot.waitUntil(lambda: page.row_of("gpu-box") is None, timeout=15_000)
            assert "Removed gpu-box" in page.status.text()
            assert all(h["name"] != "gpu-box" for h in daemon.get(HOSTS)["hosts"])
            # The daemon carries on without it: the tray still reaches it.
            assert "gpu-box" not in run(qtbot, controller.client.status())["backends"]
        finally:
            httpx.delete(f"{daemon.url}{HOSTS}/gpu-box", timeout=30)
