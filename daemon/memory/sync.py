"""Keeps each configured Open WebUI user's memory in step with Roundhouse's approved memories.

The sync is state-based: what should be there (approved memories meant for that user) is
compared with what is there (the user's memories in Open WebUI) and with the links kept in
SQLite, then the difference is applied. Running it twice changes nothing; running it after a
restart, or after a crash between a push and its link being saved, adopts what is already
there instead of adding it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from roundhouse.daemon.memory.openwebui import OpenWebUIClient, OpenWebUIError, RemoteMemory
from roundhouse.daemon.memory.records import Memory
from roundhouse.daemon.memory.settings import OpenWebUISettings
from roundhouse.daemon.secrets import Secrets
from roundhouse.daemon.store import Store

log = logging.getLogger(__name__)
KEY_PREFIX = "openwebui:"


def key_name(user_id: str) -> str:
    return KEY_PREFIX + user_id


def content_hash(memory: Memory) -> str:
    return hashlib.sha256(f"{memory.kind}\n{memory.text}".encode()).hexdigest()[:32]


@dataclass(slots=True)
class SyncReport:
    user_id: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    adopted: int = 0
    unchanged: int = 0
    legacy: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UnknownUser(KeyError):
    pass


ClientFactory = Callable[[str, str], OpenWebUIClient]


class OpenWebUISync:
    def __init__(
        self,
        *,
        store: Store,
        secrets: Secrets,
        settings: OpenWebUISettings,
        approved: Callable[[], list[Memory]],
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.settings = settings
        self._approved = approved
        self._client_factory = client_factory or (
            lambda url, key: OpenWebUIClient(url, key, timeout_s=settings.timeout_s)
        )
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task[Any] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.last_reports: dict[str, SyncReport] = {}

    # users ---------------------------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        rows = list(self.store.db.query("SELECT * FROM memory_openwebui_users ORDER BY created"))
        for row in rows:
            row["legacy"] = None if row["legacy"] is None else bool(row["legacy"])
            row["linked"] = int(
                next(
                    iter(
                        self.store.db.query(
                            "SELECT COUNT(*) AS n FROM memory_openwebui_links WHERE user_id = ?", [row["id"]]
                        )
                    )
                )["n"]
            )
        return rows

    def user(self, user_id: str) -> dict[str, Any]:
        rows = list(self.store.db.query("SELECT * FROM memory_openwebui_users WHERE id = ?", [user_id]))
        if not rows:
            raise UnknownUser(user_id)
        return rows[0]

    async def identify(self, url: str, api_key: str) -> dict[str, Any]:
        """Checks the key before it is stored: it must open the user's memory. The user's id
        comes from `GET /api/v1/auths/` where the server answers it for this kind of key
        (it wants a session token, not an API key, since 0.12), else from the URL and key."""
        client = self._client_factory(url, api_key)
        try:
            await client.list()
            try:
                data = await client._call("GET", "/api/v1/auths/")
            except OpenWebUIError:
                data = None
        finally:
            await client.close()
        if isinstance(data, dict) and data.get("id"):
            return {"id": str(data["id"]), "name": str(data.get("name") or data.get("email") or data["id"])}
        digest = hashlib.sha256(f"{url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:12]
        return {"id": f"owui-{digest}", "name": url.rstrip("/")}

    async def add_user(self, url: str, api_key: str, label: str | None = None) -> dict[str, Any]:
        who = await self.identify(url, api_key)
        user_id = who["id"]
        await asyncio.to_thread(self.secrets.set, key_name(user_id), api_key)
        row = {
            "id": user_id,
            "url": url.rstrip("/"),
            "label": label or who["name"],
            "created": time.time(),
            "legacy": None,
            "last_sync": None,
            "last_error": None,
        }
        await self.store.write(lambda db: db["memory_openwebui_users"].insert(row, pk="id", replace=True))
        return row

    async def remove_user(self, user_id: str, *, forget_remote: bool = True) -> SyncReport:
        """Stop syncing a user; by default Roundhouse's memories are removed from their Open WebUI."""
        self.user(user_id)
        report = SyncReport(user_id)
        if forget_remote:
            report = await self._sync_user(user_id, desired=[])
        await self.store.write(lambda db: _forget_user(db, user_id))
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.secrets.delete, key_name(user_id))
        return report

    # sync ----------------------------------------------------------------------------------
    def desired_for(self, user_id: str) -> list[Memory]:
        return [m for m in self._approved() if m.audience in (None, user_id)]

    async def sync_all(self) -> dict[str, SyncReport]:
        reports: dict[str, SyncReport] = {}
        for user in self.users():
            reports[user["id"]] = await self.sync_user(user["id"])
        return reports

    async def sync_user(self, user_id: str) -> SyncReport:
        self.user(user_id)
        return await self._sync_user(user_id, desired=self.desired_for(user_id))

    async def _sync_user(self, user_id: str, desired: list[Memory]) -> SyncReport:
        async with self._lock:
            user = self.user(user_id)
            report = SyncReport(user_id)
            api_key = await asyncio.to_thread(self.secrets.get, key_name(user_id))
            if not api_key:
                report.error = "no API key for this user in the keyring"
            else:
                client = self._client_factory(user["url"], api_key)
                if user.get("legacy") is not None:
                    client.legacy = bool(user["legacy"])
                try:
                    await self._reconcile(client, user_id, desired, report)
                except OpenWebUIError as exc:
                    report.error = str(exc)
                finally:
                    await client.close()
                report.legacy = bool(client.legacy)
            now = time.time()
            legacy = None if report.error and user.get("legacy") is None else int(report.legacy)
            await self.store.write(
                lambda db: db["memory_openwebui_users"].update(
                    user_id, {"last_sync": now, "last_error": report.error, "legacy": legacy}
                )
            )
            if report.error:
                log.warning("memory: Open WebUI sync for %s failed: %s", user_id, report.error)
            self.last_reports[user_id] = report
            return report

    async def _reconcile(
        self, client: OpenWebUIClient, user_id: str, desired: list[Memory], report: SyncReport
    ) -> None:
        path = self.settings.path
        legacy = await client.detect()
        remote = {r.id: r for r in await client.list()}
        links = {
            row["memory_id"]: row
            for row in self.store.db.query(
                "SELECT * FROM memory_openwebui_links WHERE user_id = ?", [user_id]
            )
        }
        wanted = {m.id: m for m in desired}
        dropped_links: list[str] = []
        for memory_id, link in links.items():
            if memory_id not in wanted:
                if link["remote_id"] in remote:
                    await client.delete(link["remote_id"])
                    remote.pop(link["remote_id"], None)
                    report.deleted += 1
                dropped_links.append(memory_id)
        linked_remote = {link["remote_id"] for mid, link in links.items() if mid in wanted}
        new_links: dict[str, tuple[str, str]] = {}
        for memory in desired:
            digest = content_hash(memory)
            link = links.get(memory.id)
            current = remote.get(link["remote_id"]) if link else None
            if current is not None:
                if _matches(current, memory, path, legacy):
                    report.unchanged += 1
                    if link is not None and link["content_hash"] != digest:
                        new_links[memory.id] = (current.id, digest)
                    continue
                updated = await client.update(current.id, memory.text, type_=memory.kind, path=path)
                if updated is not None:
                    report.updated += 1
                    new_links[memory.id] = (current.id, digest)
                    continue
            adopted = _adoptable(remote.values(), memory, path, legacy, linked_remote)
            if adopted is not None:
                linked_remote.add(adopted.id)
                new_links[memory.id] = (adopted.id, digest)
                report.adopted += 1
                continue
            created = await client.add(memory.text, type_=memory.kind, path=path)
            legacy = bool(client.legacy)
            remote[created.id] = created
            linked_remote.add(created.id)
            new_links[memory.id] = (created.id, digest)
            report.created += 1
        if not legacy:
            # Leftovers in Roundhouse's namespace that no memory claims (a memory deleted while
            # the daemon was down with its link lost, or a push whose link never got saved).
            for item in list(remote.values()):
                if item.path == path and item.id not in linked_remote:
                    await client.delete(item.id)
                    report.deleted += 1
        now = time.time()

        def save(db: sqlite_utils.Database) -> None:
            for memory_id in dropped_links:
                db.execute(
                    "DELETE FROM memory_openwebui_links WHERE user_id = ? AND memory_id = ?",
                    [user_id, memory_id],
                )
            for memory_id, (remote_id, digest) in new_links.items():
                db["memory_openwebui_links"].insert(
                    {
                        "user_id": user_id,
                        "memory_id": memory_id,
                        "remote_id": remote_id,
                        "content_hash": digest,
                        "synced": now,
                    },
                    pk=("user_id", "memory_id"),
                    replace=True,
                )

        await self.store.write(save)

    # scheduling ----------------------------------------------------------------------------
    def schedule(self, delay_s: float = 0.5) -> None:
        """Sync soon; changes that arrive together share one sync."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._pending is not None and not self._pending.done():
            return

        async def later() -> None:
            await asyncio.sleep(delay_s)
            try:
                await self.sync_all()
            except Exception:
                log.exception("memory: Open WebUI sync failed")

        self._pending = loop.create_task(later(), name="memory-openwebui-sync")

    async def wait_idle(self) -> None:
        """Wait for a scheduled sync to finish (tests and the control API use it)."""
        while self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)

    async def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="memory-openwebui-loop")

    async def _loop(self) -> None:
        if self.settings.sync_on_start:
            try:
                await self.sync_all()
            except Exception:
                log.exception("memory: Open WebUI sync at start failed")
        while True:
            await asyncio.sleep(self.settings.sync_every_s)
            try:
                await self.sync_all()
            except Exception:
                log.exception("memory: periodic Open WebUI sync failed")

    async def stop(self) -> None:
        for task in (self._loop_task, self._pending):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._loop_task = None
        self._pending = None


def _matches(remote: RemoteMemory, memory: Memory, path: str, legacy: bool) -> bool:
    if remote.content != memory.text:
        return False
    return legacy or (remote.type == memory.kind and remote.path == path)


def _adoptable(remote: Any, memory: Memory, path: str, legacy: bool, taken: set[str]) -> RemoteMemory | None:
    for item in remote:
        if item.id in taken or item.content != memory.text:
            continue
        if legacy or item.path == path:
            return item  # type: ignore[no-any-return]
    return None


def _forget_user(db: sqlite_utils.Database, user_id: str) -> None:
    db.execute("DELETE FROM memory_openwebui_links WHERE user_id = ?", [user_id])
    db.execute("DELETE FROM memory_openwebui_users WHERE id = ?", [user_id])
