"""Every window against a real daemon on the embedded model, with screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from tests.desktop.conftest import DaemonProcess, save_screenshot

MODEL = "local/smollm2-135m"


def ready(qtbot: Any, make_controller: Any, daemon: DaemonProcess, **prefs: Any) -> Any:
    controller = make_controller(daemon.url, **prefs)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    return controller


def test_settings_pages_show_the_daemon_or_say_what_is_missing(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    settings = controller.open_settings()
    qtbot.waitExposed(settings)
    caps = controller.monitor.snapshot.capabilities
    for name, page in settings.pages.items():
        settings.open_page(name)
        if page.required is not None and not caps.has(page.required):
            assert page.showing_notice and "not available" in page.notice.text()
        elif name in ("agents", "memory") and daemon.status(page.required) == 404:
            # The endpoint exists but the feature is off: the page says what the daemon said.
            qtbot.waitUntil(lambda page=page: page.showing_notice, timeout=10_000)
            assert "not enabled" in page.notice.text()
        else:
            qtbot.wait(200)
            assert not page.showing_notice, f"{name}: {page.notice.text()}"
        qtbot.wait(150)
        save_screenshot(settings, artifacts, f"settings-{name}")

    providers = settings.open_page("providers")
    qtbot.waitUntil(lambda: "openai" in providers.rows, timeout=10_000)
    routing = settings.open_page("routing")
    if not routing.showing_notice:
        qtbot.waitUntil(lambda: any(b.isChecked() for b in routing.mode_buttons.values()), timeout=10_000)
        mode = daemon.get("/control/v1/status")["mode"]
        assert routing.mode_buttons[mode].isChecked()


def test_apps_page_creates_shows_once_and_revokes_a_token(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    page = controller.open_settings("apps").pages["apps"]
    page.name.setText("editor-test")
    page.create.click()
    qtbot.waitUntil(lambda: page.token.text().startswith("rh-"), timeout=10_000)
    token = page.token.text()
    qtbot.waitUntil(lambda: "editor-test" in page.app_names(), timeout=10_000)
    names = [t["name"] for t in daemon.get("/control/v1/tokens")["tokens"]]
    assert "editor-test" in names
    page.copy.click()
    assert QApplication.clipboard().text() == token
    assert page.token.text() == "", "the token is shown once"

    page.table.selectRow(page.app_names().index("editor-test"))
    page.revoke.click()
    qtbot.waitUntil(lambda: "editor-test" not in page.app_names(), timeout=10_000)
    assert "editor-test" not in [t["name"] for t in daemon.get("/control/v1/tokens")["tokens"]]


def test_provider_key_goes_to_the_keyring_and_only_its_last_four_show(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    page = controller.open_settings("providers").pages["providers"]
    qtbot.waitUntil(lambda: "groq" in page.rows and page.rows["groq"].save.isEnabled(), timeout=10_000)
    assert "OS keyring" in page.keyring.text()
    row = page.rows["groq"]
    row.key.setText("gsk-test-0000-secret-9f3c")
    row.save.click()
    qtbot.waitUntil(lambda: "9f3c" in row.state.text(), timeout=15_000)
    assert row.key.text() == "", "the key leaves the window once saved"
    assert "secret" not in row.state.text()
    assert row.delete.isEnabled() and row.test.isEnabled() and row.save.text() == "Replace"
    stored = {p["provider"]: p for p in daemon.get("/control/v1/keys")["providers"]}
    assert stored["groq"]["stored"] and stored["groq"]["hint"].endswith("9f3c")

    row.delete.click()
    qtbot.waitUntil(lambda: row.state.text() == "no key", timeout=15_000)
    assert not {p["provider"]: p for p in daemon.get("/control/v1/keys")["providers"]}["groq"]["stored"]


def test_without_a_keyring_the_providers_page_says_so_and_cannot_save(
    qtbot: Any, make_controller: Any, tmp_path: Path
) -> None:
    nokeyring = DaemonProcess(
        tmp_path / "nokeyring", {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    nokeyring.start()
    try:
        controller = ready(qtbot, make_controller, nokeyring)
        page = controller.open_settings("providers").pages["providers"]
        qtbot.waitUntil(lambda: "openai" in page.rows, timeout=10_000)
        assert "No OS keyring is available" in page.keyring.text()
        assert not any(row.save.isEnabled() or row.key.isEnabled() for row in page.rows.values())
    finally:
        nokeyring.stop()


def test_models_page_loads_with_progress_then_the_tray_unloads_and_a_popup_shows(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    daemon.post("/control/v1/residency/unload", {"model": MODEL})  # loaded by an earlier chat, perhaps
    # slow_model_s=0: every load counts as slow, so the real load event pops up.
    controller = ready(qtbot, make_controller, daemon, slow_model_s=0.0)
    settings = controller.open_settings("models")
    page = settings.pages["models"]
    qtbot.waitUntil(lambda: page.choice.findText(MODEL) >= 0, timeout=10_000)
    assert page.pools and page.pools[0].bar.total > 0, "a memory bar for the GPU or system RAM"
    shown: list[Any] = []
    controller.notifier.shown.connect(shown.append)

    page.choice.setCurrentText(MODEL)
    page.load.click()
    assert page.progress.isVisibleTo(page) and page.cancel.isVisibleTo(page)
    assert f"Loading {MODEL}" in controller.tray.icon.toolTip()
    qtbot.waitUntil(lambda: not controller.operations, timeout=60_000)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)
    assert page.table.item(0, 0).text() == MODEL
    save_screenshot(settings, artifacts, "settings-models-loaded")
    qtbot.waitUntil(lambda: any(p.kind == "slow_model" for p in shown), timeout=10_000)

    tray = controller.tray
    tray.rebuild()
    assert f"model:{MODEL}" in tray.actions
    tray.actions[f"pin:{MODEL}"].trigger()
    qtbot.waitUntil(lambda: MODEL in daemon.get("/control/v1/residency")["pinned"], timeout=10_000)
    tray.actions[f"pin:{MODEL}"].trigger()
    qtbot.waitUntil(lambda: MODEL not in daemon.get("/control/v1/residency")["pinned"], timeout=10_000)
    tray.rebuild()
    tray.actions[f"unload:{MODEL}"].trigger()
    qtbot.waitUntil(lambda: page.table.rowCount() == 0, timeout=15_000)
    qtbot.waitUntil(lambda: MODEL not in daemon.get("/control/v1/status")["loaded_models"], timeout=15_000)


def test_cancelling_a_load_leaves_the_model_unloaded(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    key = controller.preload(MODEL)
    assert key in controller.monitor.snapshot.operations
    controller.tray.rebuild()
    controller.tray.actions[f"cancel:{key}"].trigger()
    assert key not in controller.monitor.snapshot.operations
    qtbot.waitUntil(
        lambda: (
            not any(m["id"] == MODEL and m["resident"] for m in daemon.get("/control/v1/residency")["models"])
        ),
        timeout=30_000,
    )


def test_tray_mode_menu_changes_the_routing_mode(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    if not controller.can_set_mode():
        assert not controller.tray.actions["mode:local"].isEnabled()
        return
    controller.tray.rebuild()
    controller.tray.actions["mode:local"].trigger()
    qtbot.waitUntil(lambda: daemon.get("/control/v1/status")["mode"] == "local", timeout=10_000)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.mode == "local", timeout=10_000)
    controller.tray.rebuild()
    assert controller.tray.actions["mode:local"].isChecked()
    controller.tray.actions["mode:hybrid"].trigger()
    qtbot.waitUntil(lambda: daemon.get("/control/v1/status")["mode"] == "hybrid", timeout=10_000)


def test_budget_window_shows_spend_and_saves_a_budget(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    window = controller.open_budget()
    qtbot.waitExposed(window)
    if window.showing_notice:
        assert "not available" in window.notice.text()
        save_screenshot(window, artifacts, "budget")
        return
    qtbot.waitUntil(lambda: "forecast" in window.forecast.text(), timeout=10_000)
    window.daily.setValue(3.5)
    window.new_app.setText("editor")
    window.on_add_app()
    window.apps.cellWidget(window.apps.rowCount() - 1, 2).setValue(10)
    window.save.click()

    def saved() -> bool:
        settings = daemon.get("/control/v1/spend/budgets")["settings"]
        editor = settings["apps"].get("editor") or {}
        return settings["budget"]["daily_usd"] == 3.5 and editor.get("monthly_usd") == 10

    qtbot.waitUntil(saved, timeout=10_000)
    apps = lambda: [window.apps.item(r, 0).text() for r in range(window.apps.rowCount())]  # noqa: E731
    qtbot.waitUntil(lambda: "editor" in apps(), timeout=10_000)
    save_screenshot(window, artifacts, "budget")


def test_status_window_lists_recent_requests(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any, artifacts: Path
) -> None:
    daemon.post(
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2},
    )
    controller = ready(qtbot, make_controller, daemon)
    window = controller.show_status()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.requests.rowCount() > 0, timeout=10_000)
    latest = daemon.get("/control/v1/requests?limit=1")["requests"][0]
    assert window.requests.item(0, 1).text() == (latest["model_used"] or "")
    assert daemon.url in window.summary.text()
    save_screenshot(window, artifacts, "status-window")


def test_routing_page_saves_privacy_keywords_and_shows_tiers(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    page = controller.open_settings("routing").pages["routing"]
    if page.showing_notice:
        assert "not available" in page.notice.text()
        return
    qtbot.waitUntil(lambda: any(b.isChecked() for b in page.mode_buttons.values()), timeout=10_000)
    qtbot.waitUntil(lambda: MODEL in page.tier_edits["balanced"].placeholderText(), timeout=10_000)
    page.keywords.setPlainText("project-zephyr")
    page.save.click()

    def saved() -> bool:
        policy = daemon.get("/control/v1/routing/policy")["policy"]
        return "project-zephyr" in policy["privacy"]["keywords"]

    qtbot.waitUntil(saved, timeout=10_000)
    check = daemon.post("/control/v1/routing/privacy/check", {"text": "status of project-zephyr?"})
    assert check["private"], "the daemon now keeps that keyword local"


def test_agents_and_memory_pages_match_the_daemon(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    settings = controller.open_settings()
    agents = settings.open_page("agents")
    if daemon.status("/control/v1/agents") == 200:
        names = [a["name"] for a in daemon.get("/control/v1/agents")["agents"]]
        qtbot.waitUntil(lambda: agents.table.rowCount() == len(names), timeout=10_000)
        assert [agents.table.item(r, 0).text() for r in range(len(names))] == names
    else:
        qtbot.waitUntil(lambda: agents.showing_notice, timeout=10_000)
    memory = settings.open_page("memory")
    if daemon.status("/control/v1/memory") == 200:
        pending = daemon.get("/control/v1/memory?status=pending")["memories"]
        qtbot.waitUntil(lambda: memory.queue.count() == len(pending), timeout=10_000)
    else:
        qtbot.waitUntil(lambda: memory.showing_notice, timeout=10_000)
        controller.tray.rebuild()
        assert not controller.tray.actions["memory_review"].isEnabled()
