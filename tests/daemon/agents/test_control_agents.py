"""The agents' control API on a real daemon: list, enable / disable, schedule, run now, pause and
resume, last results, and clear 4xx answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from roundhouse.daemon.agents.builtin import costs, privacy
from tests.conftest import RunningDaemon
from tests.daemon.memory.daemon_helpers import attach

BASE = "/control/v1/agents"


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> Iterator[RunningDaemon]:
    running = start_daemon(residency={"enabled": False}, routing={"knn": False})
    d = running.daemon
    attach(d, agents={"costs": costs.create(d), "privacy": privacy.create(d)})
    yield running


def call(rh: RunningDaemon, method: str, path: str = "", **kw: object) -> httpx.Response:
    return httpx.request(method, rh.url + BASE + path, timeout=120, **kw)  # type: ignore[arg-type]


def test_agents_through_the_api(rh: RunningDaemon) -> None:
    listed = call(rh, "GET").json()
    assert [a["name"] for a in listed["agents"]] == ["costs", "privacy"]
    assert listed["paused"] is False and listed["agents"][0]["last_result"] is None

    run = call(rh, "POST", "/privacy/run")
    assert run.status_code == 200 and run.json()["status"] == "ok" and run.json()["trigger"] == "manual"
    assert call(rh, "GET", "/privacy/runs").json()["runs"][0]["id"] == run.json()["id"]
    assert call(rh, "GET", "/runs").json()["runs"][0]["agent"] == "privacy"

    patched = call(rh, "PATCH", "/costs", json={"enabled": False, "every_s": 7200}).json()
    assert patched["enabled"] is False and patched["every_s"] == 7200
    assert call(rh, "POST", "/costs/pause").json() == {"agent": "costs", "paused": True}
    assert call(rh, "POST", "/costs/resume").json() == {"agent": "costs", "paused": False}
    assert call(rh, "POST", "/pause").json() == {"paused": True}
    assert call(rh, "GET").json()["paused"] is True
    assert all(a["paused"] for a in call(rh, "GET").json()["agents"])
    assert call(rh, "POST", "/resume").json() == {"paused": False}

    assert call(rh, "POST", "/nobody/run").status_code == 404
    assert "costs, privacy" in call(rh, "PATCH", "/nobody", json={"enabled": True}).text
    assert call(rh, "PATCH", "/costs", json={}).status_code == 400
    assert call(rh, "PATCH", "/costs", json={"every_s": 5}).status_code == 400
    assert call(rh, "GET", "/nobody/runs").status_code == 404
