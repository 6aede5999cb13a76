"""Open WebUI servers older than 0.10 take `content` only: Roundhouse tells them apart and still
pushes, updates, deletes and reconciles without duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.memory.records import Insight
from roundhouse.daemon.memory.service import MemoryService
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.memory.sync import OpenWebUISync
from roundhouse.daemon.secrets import Secrets
from roundhouse.daemon.store import Store
from tests.conftest import keyring_or_skip
from tests.daemon.memory.openwebui_standin import OldOpenWebUI

ADA = "sk-old-ada-000000"


class Side:
    def __init__(self, path: Path, embedder: Embedder, secrets: Secrets) -> None:
        self.store = Store(path)
        settings = MemorySettings()
        self.service = MemoryService(store=self.store, embedder=embedder, settings=settings)
        self.sync = OpenWebUISync(
            store=self.store, secrets=secrets, settings=settings.openwebui, approved=self.service.approved
        )

    async def approved(self, text: str) -> str:
        (result,) = await self.service.submit([Insight(text=text, agent="test")])
        await self.service.approve(result["memory_id"])
        return str(result["memory_id"])

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def secrets(test_secrets: Secrets) -> Secrets:
    keyring_or_skip(test_secrets)
    return test_secrets


@pytest.fixture
def old_server() -> Iterator[OldOpenWebUI]:
    with OldOpenWebUI() as server:
        yield server


async def test_an_old_server_gets_content_only_and_no_duplicates(
    old_server: OldOpenWebUI, tmp_path: Path, embedder: Embedder, secrets: Secrets
) -> None:
    old_server.memories["own"] = {
        "id": "own",
        "user_id": "ada",
        "content": "Ada's own note.",
        "updated_at": 0,
        "created_at": 0,
    }
    side = Side(tmp_path / "rh.db", embedder, secrets)
    try:
        user = await side.sync.add_user(old_server.url, ADA, "Ada")
        first = await side.approved("phi3.5:3.8b takes 2.4 s to load into memory.")
        await side.approved("Zed spent $3.10 on cloud models last week.")
        report = await side.sync.sync_user(user["id"])
        assert report.error is None and report.legacy and report.created == 2
        assert all(set(body) == {"content"} for body in old_server.bodies)
        assert side.sync.users()[0]["legacy"] is True

        await side.service.edit(first, text="phi3.5:3.8b takes 2.9 s to load into memory.")
        report = await side.sync.sync_user(user["id"])
        assert report.updated == 1 and report.created == 0
        contents = sorted(m["content"] for m in old_server.of("ada"))
        assert contents == [
            "Ada's own note.",
            "Zed spent $3.10 on cloud models last week.",
            "phi3.5:3.8b takes 2.9 s to load into memory.",
        ]
    finally:
        side.close()

    # A restart, then a lost link table: what is there is adopted by its content, never re-added.
    side = Side(tmp_path / "rh.db", embedder, secrets)
    try:
        report = await side.sync.sync_user(user["id"])
        assert (report.created, report.updated, report.deleted) == (0, 0, 0)
        side.store.write_sync(lambda db: db.execute("DELETE FROM memory_openwebui_links"))
        report = await side.sync.sync_user(user["id"])
        assert report.adopted == 2 and report.created == 0
        assert len(old_server.of("ada")) == 3

        memory_id = side.service.list("approved")[0]["id"]
        await side.service.delete(memory_id)
        report = await side.sync.sync_user(user["id"])
        assert report.deleted == 1
        assert "Ada's own note." in {m["content"] for m in old_server.of("ada")}
        assert len(old_server.of("ada")) == 2
    finally:
        side.close()


@pytest.mark.parametrize("strict", [False, True], ids=["drops-fields", "refuses-fields"])
async def test_an_unversioned_old_server_is_recognised_by_its_answers(
    strict: bool, tmp_path: Path, embedder: Embedder, secrets: Secrets
) -> None:
    with OldOpenWebUI(version=None, strict=strict) as server:
        side = Side(tmp_path / "rh.db", embedder, secrets)
        try:
            user = await side.sync.add_user(server.url, ADA)
            await side.approved("gemma2:2b answers 41% of the built-in evaluation questions correctly.")
            await side.approved("Cloud spend of Logseq is decreasing week over week.")
            report = await side.sync.sync_user(user["id"])
            assert report.error is None and report.legacy and report.created == 2
            assert len(server.of("ada")) == 2
            # After the first answer told, only content is sent.
            assert all(set(body) == {"content"} for body in server.bodies[1:])
        finally:
            side.close()
