"""The memory's control API on a real daemon: the review queue, edits, export / import, delete
all, Open WebUI users, and clear 4xx answers to bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from roundhouse.daemon.secrets import Secrets
from tests.conftest import RunningDaemon, keyring_or_skip
from tests.daemon.memory.daemon_helpers import attach
from tests.daemon.memory.openwebui_standin import OldOpenWebUI

BASE = "/control/v1/memory"


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> Iterator[RunningDaemon]:
    running = start_daemon(residency={"enabled": False}, routing={"knn": False})
    attach(running.daemon)
    yield running


def call(rh: RunningDaemon, method: str, path: str, **kw: object) -> httpx.Response:
    return httpx.request(method, rh.url + BASE + path, timeout=120, **kw)  # type: ignore[arg-type]


def test_review_queue_through_the_api(rh: RunningDaemon) -> None:
    added = call(
        rh, "POST", "/insights", json={"text": "phi4:14b takes 9.5 s to load into memory.", "importance": 0.7}
    )
    assert added.status_code == 200 and added.json()["action"] == "ADD"
    memory_id = added.json()["memory_id"]
    user = call(
        rh, "POST", "/insights", json={"text": "The user prefers concise answers.", "kind": "user"}
    ).json()

    queue = call(rh, "GET", "", params={"status": "pending"}).json()
    assert {m["id"] for m in queue["memories"]} == {memory_id, user["memory_id"]}
    assert call(rh, "POST", f"/{memory_id}/approve").json()["status"] == "approved"
    assert call(rh, "POST", f"/{user['memory_id']}/reject").json()["status"] == "rejected"
    assert call(rh, "GET", "").json()["counts"] == {"approved": 1, "rejected": 1}

    edited = call(rh, "PATCH", f"/{memory_id}", json={"text": "phi4:14b takes 9.0 s to load into memory."})
    assert edited.json()["text"] == "phi4:14b takes 9.0 s to load into memory."
    detail = call(rh, "GET", f"/{memory_id}").json()
    assert [h["action"] for h in detail["history"]] == ["added", "approved", "edited"]
    assert detail["insights"][0]["agent"] == "user"

    decisions = call(rh, "GET", "/decisions").json()["decisions"]
    assert {d["action"] for d in decisions} == {"ADD"} and all(d["reasons"] for d in decisions)

    # Bad input: clear 4xx answers.
    assert call(rh, "POST", "/mem-nope/approve").status_code == 404
    assert call(rh, "POST", f"/{memory_id}/approve").status_code == 409  # already approved
    assert call(rh, "PATCH", f"/{memory_id}", json={}).status_code == 400
    assert call(rh, "PATCH", f"/{memory_id}", json={"kind": "other"}).status_code == 400
    assert call(rh, "POST", "/insights", json={"text": ""}).status_code == 400
    assert call(rh, "GET", "", params={"status": "maybe"}).status_code == 400

    exported = call(rh, "GET", "/export").json()
    assert len(exported["memories"]) == 2
    assert call(rh, "POST", "/delete-all", json={}).status_code == 400  # needs {"confirm": true}
    assert call(rh, "POST", "/delete-all", json={"confirm": True}).json() == {"deleted": 2}
    assert call(rh, "GET", "").json()["memories"] == []
    assert call(rh, "POST", "/import", json={"memories": "nope"}).status_code == 400
    assert call(rh, "POST", "/import", json=exported).json() == {"added": 2, "skipped": 0}
    assert call(rh, "DELETE", f"/{memory_id}").json() == {"deleted": memory_id}
    assert call(rh, "DELETE", f"/{memory_id}").status_code == 404


def test_merges_are_phrased_by_the_local_model_and_checked(rh: RunningDaemon) -> None:
    first = call(
        rh,
        "POST",
        "/insights",
        json={"text": "gemma2:2b generates about 64 tokens per second on this machine."},
    )
    again = call(
        rh, "POST", "/insights", json={"text": "On this machine, gemma2:2b produces roughly 64 tok/s."}
    )
    assert again.json()["action"] == "MERGE" and again.json()["memory_id"] == first.json()["memory_id"]
    text = call(rh, "GET", f"/{first.json()['memory_id']}").json()["text"]
    # Whatever the small model wrote, what is kept still names the model and its figure.
    assert "gemma2:2b" in text and "64" in text
    used = rh.rows("SELECT * FROM requests WHERE app = 'roundhouse-agent:curator'")
    assert len(used) == 1 and used[0]["backend"] == "embedded"


def test_open_webui_users_through_the_api(rh: RunningDaemon, test_secrets: Secrets) -> None:
    keyring_or_skip(test_secrets)
    with OldOpenWebUI(version="0.9.2") as server:
        refused = call(
            rh, "POST", "/openwebui/users", json={"url": server.url, "api_key": "sk-wrong-0000000"}
        )
        assert refused.status_code == 400 and "sk-wrong" not in refused.text
        assert (
            call(
                rh, "POST", "/openwebui/users", json={"url": "ftp://x", "api_key": "sk-old-ada-000000"}
            ).status_code
            == 400
        )

        memory_id = call(
            rh, "POST", "/insights", json={"text": "Zed spent $4.20 on cloud models last week."}
        ).json()["memory_id"]
        call(rh, "POST", f"/{memory_id}/approve")
        added = call(
            rh,
            "POST",
            "/openwebui/users",
            json={"url": server.url, "api_key": "sk-old-ada-000000", "label": "Ada"},
        )
        assert added.status_code == 200, added.text
        user_id = added.json()["user"]["id"]
        assert added.json()["sync"]["created"] == 1
        assert [m["content"] for m in server.of("ada")] == ["Zed spent $4.20 on cloud models last week."]
        assert "sk-old-ada" not in call(rh, "GET", "/openwebui/users").text

        listed = call(rh, "GET", "/openwebui/users").json()["users"]
        assert [(u["label"], u["legacy"], u["linked"]) for u in listed] == [("Ada", True, 1)]
        report = call(rh, "POST", "/openwebui/sync").json()["reports"][user_id]
        assert (report["created"], report["unchanged"]) == (0, 1)

        assert call(rh, "DELETE", "/openwebui/users/nobody").status_code == 404
        assert call(rh, "DELETE", f"/openwebui/users/{user_id}").json()["sync"]["deleted"] == 1
        assert server.of("ada") == []
