"""Pages say what they show: empty states, one meaning per checkbox, intervals in human units,
and memory bars whose segments are named for what they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QCheckBox

from tests.desktop.conftest import DaemonProcess, save_screenshot

AGENTS = "/control/v1/agents"
MEMORY = "/control/v1/memory"
WEEK_S = 7 * 86400


def every_s(daemon: DaemonProcess, name: str) -> int:
    return next(int(a["every_s"]) for a in daemon.get(AGENTS)["agents"] if a["name"] == name)


def ready(qtbot: Any, make_controller: Any, daemon: DaemonProcess) -> Any:
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    return controller


def test_memory_page_says_nothing_to_review_and_offers_actions_only_for_a_selection(
    qtbot: Any, make_controller: Any, tmp_path: Path, artifacts: Path
) -> None:
    daemon = DaemonProcess(tmp_path / "daemon", {"ROUNDHOUSE_RESIDENCY__ALLOW_CPU_SPILL": "true"}).start()
    try:
        assert daemon.status(MEMORY) == 200, "the memory curator runs by default"
        controller = ready(qtbot, make_controller, daemon)
        page = controller.open_settings("memory").pages["memory"]
        qtbot.waitUntil(lambda: not page.showing_notice, timeout=10_000)
        qtbot.wait(500)
        assert page.queue_stack.currentWidget() is page.queue_empty
        assert "Nothing to review" in page.queue_empty.text()
        assert page.users_stack.currentWidget() is page.users_empty
        assert "No Open WebUI users yet" in page.users_empty.text()
        assert not any(b.isEnabled() for b in (page.approve, page.edit, page.reject))
        assert not page.remove_user.isEnabled() and not page.sync.isEnabled()
        save_screenshot(page.window(), artifacts, "memory-empty")

        # A memory proposed while the page is open shows up without reopening it.
        export = {
            "format": "roundhouse-memory",
            "version": 1,
            "memories": [{"text": "The user writes Rust at work.", "status": "pending"}],
        }
        assert daemon.post(f"{MEMORY}/import", export)["added"] == 1
        qtbot.waitUntil(lambda: page.queue.count() == 1, timeout=15_000)
        assert page.queue_stack.currentWidget() is page.queue
        assert not page.approve.isEnabled(), "nothing is selected yet"
        page.queue.setCurrentRow(0)
        assert all(b.isEnabled() for b in (page.approve, page.edit, page.reject))
        page.approve.click()
        qtbot.waitUntil(lambda: page.queue.count() == 0, timeout=15_000)
        assert page.queue_stack.currentWidget() is page.queue_empty
        assert not page.approve.isEnabled()
    finally:
        daemon.stop()


def test_an_always_private_app_is_never_shown_as_cloud_allowed(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    controller = ready(qtbot, make_controller, daemon)
    page = controller.open_settings("routing").pages["routing"]
    qtbot.waitUntil(lambda: any(b.isChecked() for b in page.mode_buttons.values()), timeout=10_000)

    def boxes(row: int) -> tuple[QCheckBox, QCheckBox]:
        private, cloud = page.apps.cellWidget(row, 1), page.apps.cellWidget(row, 2)
        assert isinstance(private, QCheckBox) and isinstance(cloud, QCheckBox)
        return private, cloud

    # A policy that says only "private" (allow_cloud defaults to true) reads as private.
    page._add_app_row("editor-private", {"private": True})
    private, cloud = boxes(page.apps.rowCount() - 1)
    assert private.isChecked() and not cloud.isChecked() and not cloud.isEnabled()

    page._add_app_row("chat-cloud", {})
    private, cloud = boxes(page.apps.rowCount() - 1)
    assert cloud.isChecked() and cloud.isEnabled()
    private.setChecked(True)
    assert not cloud.isChecked() and not cloud.isEnabled()
    private.setChecked(False)
    assert cloud.isEnabled()
    private.setChecked(True)

    page.save.click()

    def saved() -> bool:
        apps = daemon.get("/control/v1/routing/policy")["policy"].get("apps") or {}
        return "chat-cloud" in apps

    qtbot.waitUntil(saved, timeout=10_000)
    apps = daemon.get("/control/v1/routing/policy")["policy"]["apps"]
    for name in ("editor-private", "chat-cloud"):
        assert apps[name]["private"] and not apps[name]["allow_cloud"]


def test_agent_intervals_read_in_days_and_save_only_when_asked(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    assert daemon.status(AGENTS) == 200
    agents = {a["name"]: a for a in daemon.get(AGENTS)["agents"]}
    name = next(n for n, a in agents.items() if int(a["every_s"]) == WEEK_S)
    controller = ready(qtbot, make_controller, daemon)
    page = controller.open_settings("agents").pages["agents"]
    qtbot.waitUntil(lambda: page.table.rowCount() == len(agents), timeout=10_000)
    row = next(r for r in range(page.table.rowCount()) if page.table.item(r, 0).text() == name)
    editor = page.table.cellWidget(row, 2)
    assert (editor.count.value(), editor.unit.currentText()) == (7, "days"), "not 10080 minutes"
    assert not editor.apply.isEnabled()

    editor.count.setValue(2)
    editor.count.clearFocus()
    editor.count.editingFinished.emit()
    page.reload()  # a refresh meanwhile keeps the edit
    qtbot.wait(800)
    assert every_s(daemon, name) == WEEK_S, "nothing saved before Save"
    assert page.table.cellWidget(row, 2) is editor and editor.count.value() == 2
    assert editor.apply.isEnabled()

    editor.apply.click()
    qtbot.waitUntil(lambda: every_s(daemon, name) == 2 * 86400, timeout=10_000)
    qtbot.waitUntil(lambda: f"{name} now runs every 2 days" in page.status.text(), timeout=10_000)

    def restored_editor() -> Any:
        return page.table.cellWidget(row, 2)

    qtbot.waitUntil(lambda: restored_editor().count.value() == 2, timeout=10_000)
    editor = restored_editor()
    editor.count.setValue(1)
    editor.unit.setCurrentText("hours")
    editor.apply.click()
    qtbot.waitUntil(lambda: every_s(daemon, name) == 3600, timeout=10_000)
    qtbot.waitUntil(lambda: f"{name} now runs every 1 hour." in page.status.text(), timeout=10_000)
    qtbot.waitUntil(lambda: restored_editor().unit.currentText() == "hours", timeout=10_000)
    editor = restored_editor()
    editor.count.setValue(7)
    editor.unit.setCurrentText("days")
    editor.apply.click()
    qtbot.waitUntil(lambda: every_s(daemon, name) == WEEK_S, timeout=10_000)


def test_the_memory_bar_names_the_other_programs_segment_as_theirs(qtbot: Any) -> None:
    from roundhouse.desktop.windows.memory_bar import COLOURS, MemoryPool

    pool = MemoryPool()
    qtbot.addWidget(pool)
    gib = 1024**3
    pool.set_usage("System RAM", 16 * gib, 0, 8 * gib)
    pool.resize(400, 80)
    pool.show()
    qtbot.waitExposed(pool)
    image = pool.bar.grab().toImage()
    middle_of_others = image.pixelColor(image.width() // 4, image.height() // 2)
    assert middle_of_others.name() == COLOURS["others"].name()
    legend = pool.legend.text()
    assert f'color:{COLOURS["others"].name()}">■</span> Other programs 8.0 GB' in legend
    assert f'color:{COLOURS["roundhouse"].name()}">■</span> Roundhouse models 0 B' in legend
    assert "Roundhouse" not in pool.bar.describe().split("·")[1]
