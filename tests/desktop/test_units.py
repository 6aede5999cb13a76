"""The tray's pure parts: popup choice and rate limits, restart backoff, icon state, chart data."""

from __future__ import annotations

import time

from roundhouse.desktop.client import Capabilities, parse_sse
from roundhouse.desktop.monitor import Snapshot, private_reroute
from roundhouse.desktop.popups import Popup, PopupGate, popup_for
from roundhouse.desktop.progress import pull_percent, pull_text
from roundhouse.desktop.restart_policy import RestartPolicy
from roundhouse.desktop.spend_api import by_day_path, chart_data
from roundhouse.desktop.tray_text import tooltip, tray_state


def test_budget_thresholds_pop_up_once_each() -> None:
    event = {
        "kind": "budget.threshold",
        "data": {
            "scope": "overall",
            "window": "daily",
            "period": "2026-11-21",
            "threshold": 80,
            "spent_usd": 0.8,
            "budget_usd": 1.0,
            "action": None,
        },
    }
    popup = popup_for(event, slow_model_s=5)
    assert (
        popup is not None
        and popup.kind == "budget"
        and "80 %" in popup.title
        and "$0.80 of $1.00" in popup.message
    )
    gate = PopupGate({"budget": True}, interval_s=0)
    assert gate.allow(popup, 0.0)
    assert not gate.allow(popup, 100.0), "the same threshold of the same period pops up once"


def test_slow_loads_pop_up_and_quick_ones_do_not() -> None:
    slow = {"kind": "residency.load", "data": {"model": "m", "seconds": 9.5}}
    quick = {"kind": "residency.load", "data": {"model": "m", "seconds": 0.4}}
    popup = popup_for(slow, slow_model_s=5)
    assert popup is not None and popup.kind == "slow_model" and "took 10 s" in popup.title
    assert popup_for(quick, slow_model_s=5) is None


def test_privacy_popups_once_per_conversation() -> None:
    gate = PopupGate({"privacy": True}, interval_s=0)
    first = popup_for({"kind": "routing.private", "data": {"chat_id": "c1", "private": True}}, slow_model_s=5)
    again = popup_for({"kind": "routing.private", "data": {"chat_id": "c1", "private": True}}, slow_model_s=5)
    other = popup_for({"kind": "routing.private", "data": {"chat_id": "c2", "private": True}}, slow_model_s=5)
    assert first and again and other
    assert gate.allow(first, 1.0) and not gate.allow(again, 2.0) and gate.allow(other, 3.0)


def test_popups_are_rate_limited_per_kind_and_can_be_turned_off() -> None:
    gate = PopupGate({"slow_model": True, "agent": False}, interval_s=60)
    slow = Popup("slow_model", "t", "m")
    assert gate.allow(slow, 0.0)
    assert not gate.allow(slow, 30.0)
    assert gate.allow(slow, 61.0)
    assert not gate.allow(Popup("agent", "t", "m"), 0.0)
    assert gate.allow(Popup("daemon", "a", "b"), 0.0) and gate.allow(Popup("daemon", "c", "d"), 1.0)


def test_restart_backoff_doubles_and_gives_up_past_the_cap() -> None:
    policy = RestartPolicy(max_restarts=3, window_s=100, base_delay_s=1, max_delay_s=3)
    assert [policy.on_crash(t) for t in (0, 1, 2)] == [1, 2, 3]
    assert policy.on_crash(3) is None
    # Crashes older than the window are forgotten.
    assert policy.on_crash(500) == 1


def test_icon_state_follows_the_daemon() -> None:
    ok = {
        "ready": True,
        "backends": {"embedded": {"ok": True, "local": True}, "cloud": {"ok": True, "local": False}},
    }
    assert tray_state(Snapshot(), "stopped") == "stopped"
    assert tray_state(Snapshot(), "starting") == "degraded"
    assert tray_state(Snapshot(reachable=True, status=ok), "running") == "running"
    broken = {**ok, "backends": {"embedded": {"ok": False, "local": True}}}
    assert tray_state(Snapshot(reachable=True, status=broken), "running") == "degraded"
    cloud = Snapshot(reachable=True, status=ok, last_cloud_use=time.time())
    assert tray_state(cloud, "running") == "cloud"


def test_spend_chart_and_events_parse() -> None:
    days, series = chart_data(
        {"days": [{"day": "2026-11-20", "usd": 0.5}, {"day": "2026-11-21", "usd": 1.5}]}
    )
    assert days == ["2026-11-20", "2026-11-21"] and series == {"all": [0.5, 1.5]}
    caps = Capabilities({"/control/v1/spend/by-day": frozenset({"get"})})
    assert by_day_path(caps) == "/control/v1/spend/by-day"
    body = (
        'id: 3\nevent: request.done\ndata: {"seq": 3, "kind": "request.done", "data": {}}\n\n: keep-alive\n\n'
    )
    assert parse_sse(body) == [{"seq": 3, "kind": "request.done", "data": {}}]


def test_agent_alerts_pop_up_as_warnings() -> None:
    popup = popup_for(
        {"kind": "agents.alert", "data": {"agent": "health", "kind": "backend", "message": "Ollama is down"}},
        slow_model_s=5,
    )
    assert popup is not None and popup.kind == "agent" and popup.warning and popup.message == "Ollama is down"
    assert (
        popup_for({"kind": "agents.run", "data": {"agent": "health", "status": "ok"}}, slow_model_s=5) is None
    )


def test_a_private_reroute_is_found_in_a_ledger_row() -> None:
    row = {
        "id": "rh-1",
        "app": "open-webui",
        "chat_id": "c9",
        "model_asked": "auto",
        "model_used": "local/smollm2-135m",
        "route": {"private": True, "reasons": ["privacy: found pii.email", "local: local/smollm2-135m"]},
    }
    event = private_reroute(row)
    assert event is not None and event["data"]["chat_id"] == "c9"
    assert event["data"]["reason"] == "privacy: found pii.email"
    asked_local = {**row, "model_asked": "local/smollm2-135m"}
    assert private_reroute(asked_local) is None, "asked for that local model: nothing was rerouted"
    assert private_reroute({**row, "route": {"private": False}}) is None


def test_pull_progress_reads_as_a_percent_and_shows_in_the_tooltip() -> None:
    assert pull_percent({"status": "pulling manifest"}) is None
    assert pull_percent({"status": "pulling 3f2a", "total": 0, "completed": 0}) is None
    assert pull_percent({"status": "pulling 3f2a", "total": 400, "completed": 101}) == 25
    assert pull_percent({"status": "pulling 3f2a", "total": 400, "completed": 500}) == 100
    assert pull_text("llama3.2:1b", "pulling manifest", None) == "Pulling llama3.2:1b… (pulling manifest)"
    line = pull_text("llama3.2:1b", "pulling 3f2a", 25)
    assert line == "Pulling llama3.2:1b: 25% (pulling 3f2a)"
    running = Snapshot(
        reachable=True, status={"endpoint": "http://127.0.0.1:8719"}, operations={"pull:x": line}
    )
    assert tooltip(running, "running").splitlines()[-1] == line
