"""Roundhouse's approved memories in a real Open WebUI: push, update, delete, reconcile after a
restart without duplicates, and two users kept apart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.memory.component import MemoryComponent
from roundhouse.daemon.memory.records import Insight
from roundhouse.daemon.memory.service import MemoryService
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.memory.sync import OpenWebUISync
from roundhouse.daemon.secrets import Secrets
from roundhouse.daemon.store import Store
from tests.conftest import keyring_or_skip
from tests.e2e import openwebui_server
from tests.e2e.openwebui_server import OpenWebUI

openwebui = openwebui_server.openwebui  # the session-wide Open WebUI fixture
PATH = "roundhouse"


class Roundhouse:
    """The memory component on a database file, as a daemon would run it; `restart` closes it
    and opens a fresh one on the same file."""

    def __init__(self, db_path: Path, embedder: Embedder, secrets: Secrets) -> None:
        self.db_path = db_path
        self.embedder = embedder
        self.secrets = secrets
        self.store: Store | None = None
        self.memory = self._open()

    def _open(self) -> MemoryComponent:
        self.store = Store(self.db_path)
        settings = MemorySettings()
        service = MemoryService(store=self.store, embedder=self.embedder, settings=settings)
        sync = OpenWebUISync(
            store=self.store, secrets=self.secrets, settings=settings.openwebui, approved=service.approved
        )
        return MemoryComponent(service, sync)

    async def restart(self) -> None:
        await self.close()
        self.memory = self._open()

    async def close(self) -> None:
        await self.memory.stop()
        assert self.store is not None
        self.store.close()

    async def add_approved(self, text: str, kind: str = "context") -> str:
        (result,) = await self.memory.submit([Insight(text=text, agent="test", kind=kind, importance=0.8)])  # type: ignore[arg-type]
        assert result["action"] == "ADD", result
        await self.memory.service.approve(result["memory_id"])
        return str(result["memory_id"])


def ours(items: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(i["content"]): i for i in items if i.get("path") == PATH}


@pytest.mark.compat(client="Open WebUI", feature="memory")
async def test_memories_reach_open_webui_and_stay_in_step(
    openwebui: OpenWebUI,
    tmp_path: Path,
    embedder: Embedder,
    test_secrets: Secrets,
) -> None:
    keyring_or_skip(test_secrets)
    # Each user's own memory, which Roundhouse must never touch.
    headers = {"Authorization": f"Bearer {openwebui.ada_key}"}
    own = await asyncio.to_thread(
        httpx.post,
        f"{openwebui.url}/api/v1/memories/add",
        headers=headers,
        json={"content": "Ada drinks tea."},
        timeout=60,
    )
    own.raise_for_status()

    rh = Roundhouse(tmp_path / "rh.db", embedder, test_secrets)
    try:
        sync = rh.memory.sync
        ada = await sync.add_user(openwebui.url, openwebui.ada_key, "Ada")
        bob = await sync.add_user(openwebui.url, openwebui.bob_token, "Bob")
        assert {u["label"] for u in sync.users()} == {"Ada", "Bob"}
        # The key lives in the keyring, not in the database.
        dump = "\n".join(rh.store.db.iterdump()) if rh.store else ""
        assert openwebui.ada_key not in dump and openwebui.bob_token not in dump

        # A pending memory waits for review: nothing is pushed.
        (pending,) = await rh.memory.submit(
            [Insight(text="qwen2.5:7b takes 6.5 s to load into memory.", agent="test")]
        )
        await sync.sync_all()
        assert ours(openwebui.memories(openwebui.ada_key)) == {}

        speed = await rh.add_approved("llama3.1:8b generates about 42 tokens per second on this machine.")
        short = await rh.add_approved("The user prefers short answers.", kind="user")
        only_bob = await rh.add_approved("Zed tags_generation requests run well on qwen2.5:1.5b.")
        await rh.memory.service.edit(only_bob, audience=bob["id"])
        reports = await sync.sync_all()
        assert all(r.error is None for r in reports.values()), reports

        ada_items = ours(openwebui.memories(openwebui.ada_key))
        bob_items = ours(openwebui.memories(openwebui.bob_token))
        assert set(ada_items) == {
            "llama3.1:8b generates about 42 tokens per second on this machine.",
            "The user prefers short answers.",
        }
        assert ada_items["The user prefers short answers."]["type"] == "user"
        assert (
            ada_items["llama3.1:8b generates about 42 tokens per second on this machine."]["type"]
            == "context"
        )
        # Isolation: Bob's memory is only Bob's, and each side sees only its own items.
        assert "Zed tags_generation requests run well on qwen2.5:1.5b." in bob_items
        assert len(bob_items) == 3
        assert {i["user_id"] for i in openwebui.memories(openwebui.bob_token)} == {openwebui.bob_id}

        # Update: an edit changes the same Open WebUI item in place.
        speed_remote_id = ada_items["llama3.1:8b generates about 42 tokens per second on this machine."]["id"]
        await rh.memory.service.edit(
            speed, text="llama3.1:8b generates about 45 tokens per second on this machine."
        )
        await sync.sync_all()
        ada_items = ours(openwebui.memories(openwebui.ada_key))
        assert (
            ada_items["llama3.1:8b generates about 45 tokens per second on this machine."]["id"]
            == speed_remote_id
        )
        assert "llama3.1:8b generates about 42 tokens per second on this machine." not in ada_items

        # A contradiction supersedes: once the new memory is approved, the old text is gone.
        (newer,) = await rh.memory.submit(
            [Insight(text="llama3.1:8b generates about 21 tokens per second on this machine.", agent="test")]
        )
        assert newer["action"] == "SUPERSEDE"
        await rh.memory.service.approve(newer["memory_id"])
        await sync.sync_all()
        ada_texts = set(ours(openwebui.memories(openwebui.ada_key)))
        assert "llama3.1:8b generates about 21 tokens per second on this machine." in ada_texts
        assert not any("45 tokens" in t for t in ada_texts)

        # Delete: gone for every user.
        await rh.memory.service.delete(short)
        await sync.sync_all()
        assert "The user prefers short answers." not in ours(openwebui.memories(openwebui.ada_key))
        assert "The user prefers short answers." not in ours(openwebui.memories(openwebui.bob_token))

        before_ada = openwebui.memories(openwebui.ada_key)
        before_bob = openwebui.memories(openwebui.bob_token)

        # Restart: reconciling finds everything in place and adds nothing.
        await rh.restart()
        reports = await rh.memory.sync.sync_all()
        for report in reports.values():
            assert report.error is None
            assert (report.created, report.deleted, report.updated) == (0, 0, 0), report
        assert sorted(i["id"] for i in openwebui.memories(openwebui.ada_key)) == sorted(
            i["id"] for i in before_ada
        )
        assert sorted(i["id"] for i in openwebui.memories(openwebui.bob_token)) == sorted(
            i["id"] for i in before_bob
        )

        # A push whose link was never saved (a crash at the wrong moment) is adopted, not repeated.
        assert rh.store is not None
        rh.store.write_sync(lambda db: db.execute("DELETE FROM memory_openwebui_links"))
        reports = await rh.memory.sync.sync_all()
        assert all(r.created == 0 and r.adopted >= 1 for r in reports.values()), reports
        contents = [i["content"] for i in openwebui.memories(openwebui.ada_key)]
        assert len(contents) == len(set(contents))

        # The user's own memory survived all of it.
        assert "Ada drinks tea." in contents
        assert pending["memory_id"] not in {
            link["memory_id"] for link in rh.store.db.query("SELECT * FROM memory_openwebui_links")
        }

        # Removing a user takes Roundhouse's memories out of their Open WebUI and the key out of the keyring.
        await rh.memory.sync.remove_user(bob["id"])
        assert ours(openwebui.memories(openwebui.bob_token)) == {}
        assert test_secrets.get(f"openwebui:{bob['id']}") is None
        assert ada["id"] in {u["id"] for u in rh.memory.sync.users()}
    finally:
        await rh.close()


async def test_a_refused_key_is_not_stored(
    openwebui: OpenWebUI,
    tmp_path: Path,
    embedder: Embedder,
    test_secrets: Secrets,
) -> None:
    keyring_or_skip(test_secrets)
    rh = Roundhouse(tmp_path / "rh.db", embedder, test_secrets)
    try:
        from roundhouse.daemon.memory.openwebui import OpenWebUIError

        with pytest.raises(OpenWebUIError) as refused:
            await rh.memory.sync.add_user(openwebui.url, "sk-not-a-real-key-000000")
        assert "401" in str(refused.value) or "403" in str(refused.value)
        assert "sk-not-a-real-key" not in str(refused.value)
        assert rh.memory.sync.users() == []
        assert test_secrets.names() == []
    finally:
        await rh.close()
