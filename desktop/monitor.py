"""Follows the daemon: polls its status and reads its events, and tells the UI what changed.

One poll loop on the qasync event loop; every call is async, so the UI never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from roundhouse.desktop.client import Capabilities, ControlClient, ControlError

log = logging.getLogger(__name__)

# How long after a cloud request the icon keeps saying "cloud in use".
CLOUD_RECENT_S = 120.0

SPEND_SUMMARY = "/control/v1/spend"
MEMORY = "/control/v1/memory"
AGENTS = "/control/v1/agents"
AGENTS_PAUSE = "/control/v1/agents/pause"
AGENTS_RESUME = "/control/v1/agents/resume"
REQUESTS = "/control/v1/requests"


def private_reroute(row: dict[str, Any]) -> dict[str, Any] | None:
    """A `routing.private` event for a ledger row whose prompt was kept local for privacy,
    when it asked for something else (auto, cloud, a cloud model)."""
    route = row.get("route") or {}
    asked, used = row.get("model_asked"), row.get("model_used")
    if not route.get("private") or asked in ("local", "private") or not used or asked == used:
        return None
    reasons = [r for r in route.get("reasons", []) if "privacy" in r or "private" in r or "kept local" in r]
    return {
        "seq": 0,
        "ts": row.get("ts"),
        "kind": "routing.private",
        "data": {
            "private": True,
            "request_id": row.get("id"),
            "chat_id": row.get("chat_id"),
            "app": row.get("app") if row.get("app") != "unknown" else None,
            "model": used,
            "reason": "; ".join(reasons) or None,
        },
    }


@dataclass(frozen=True)
class Snapshot:
    """What the tray shows; replaced as a whole on every change."""

    reachable: bool = False
    status: dict[str, Any] = field(default_factory=dict)
    residency: dict[str, Any] | None = None
    spend: dict[str, Any] | None = None
    memory_waiting: int | None = None
    agents_paused: bool | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    last_cloud_use: float | None = None
    # Long operations in progress, e.g. {"load:local/smollm2-135m": "Loading local/smollm2-135m"}
    operations: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return str(self.status.get("mode", "hybrid"))

    @property
    def endpoint(self) -> str:
        return str(self.status.get("endpoint", ""))

    def degraded_backends(self) -> list[str]:
        return [name for name, b in (self.status.get("backends") or {}).items() if not b.get("ok", True)]

    def local_backends(self) -> set[str]:
        return {name for name, b in (self.status.get("backends") or {}).items() if b.get("local")}

    def loaded_models(self) -> list[dict[str, Any]]:
        """Loaded models with VRAM and pin state when residency reports them, else just names."""
        if self.residency is not None:
            return [m for m in self.residency.get("models", []) if m.get("resident")]
        return [{"id": name} for name in self.status.get("loaded_models", [])]

    def spent_today(self) -> float | None:
        if not self.spend:
            return None
        daily = ((self.spend.get("budgets") or {}).get("overall") or {}).get("daily") or {}
        value = daily.get("spent_usd")
        return float(value) if value is not None else None

    def cloud_in_use(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.last_cloud_use is not None and now - self.last_cloud_use < CLOUD_RECENT_S


class Monitor(QObject):
    changed = Signal(object)  # Snapshot
    event = Signal(dict)  # one daemon event: {seq, ts, kind, data}

    def __init__(
        self, client: ControlClient, *, interval_s: float = 2.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.interval_s = interval_s
        self.snapshot = Snapshot()
        self._seq: int | None = None
        self._uptime = 0.0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._reported: deque[str] = deque(maxlen=500)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Never let a request that ignores cancellation hold up Quit.
            await asyncio.wait([self._task], timeout=5)
            self._task = None

    def refresh_soon(self) -> None:
        """Poll now rather than at the next tick (after the user changed something)."""
        self._wake.set()

    def set_operation(self, key: str, text: str | None) -> None:
        operations = dict(self.snapshot.operations)
        if text is None:
            operations.pop(key, None)
        else:
            operations[key] = text
        self._publish(replace(self.snapshot, operations=operations))

    def _publish(self, snapshot: Snapshot) -> None:
        if snapshot != self.snapshot:
            self.snapshot = snapshot
            self.changed.emit(snapshot)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                log.exception("polling the daemon failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    async def poll(self) -> None:
        try:
            status = await self.client.status()
        except ControlError:
            if self.snapshot.reachable:
                # Nothing the stopped daemon said still holds: not its mode, models, budget,
                # memory queue or API (read afresh when it answers again).
                self._publish(
                    Snapshot(last_cloud_use=self.snapshot.last_cloud_use, operations=self.snapshot.operations)
                )
            return
        restarted = float(status.get("uptime_s", 0)) < self._uptime or not self.snapshot.reachable
        self._uptime = float(status.get("uptime_s", 0))
        snapshot = self.snapshot
        if restarted:
            self._seq = None
            try:
                snapshot = replace(snapshot, capabilities=await self.client.capabilities())
            except ControlError as exc:
                log.warning("cannot read the daemon's API description: %s", exc.message)
        caps = snapshot.capabilities
        snapshot = replace(
            snapshot,
            reachable=True,
            status=status,
            residency=await self._optional(caps, "/control/v1/residency"),
            spend=await self._optional(caps, SPEND_SUMMARY),
            memory_waiting=self._count(await self._optional(caps, MEMORY, status="pending", limit=1)),
            agents_paused=self._paused(await self._optional(caps, AGENTS)),
        )
        snapshot = await self._read_events(snapshot)
        self._publish(snapshot)

    async def _optional(self, caps: Capabilities, path: str, **params: Any) -> Any:
        if not caps.has(path):
            return None
        try:
            return await self.client.get(path, **params)
        except ControlError as exc:
            log.debug("%s: %s", path, exc.message)
            return None

    @staticmethod
    def _count(answer: Any) -> int | None:
        """Memories waiting for review, from GET /control/v1/memory?status=pending."""
        if not isinstance(answer, dict):
            return None
        counts = answer.get("counts")
        if isinstance(counts, dict):
            return int(counts.get("pending") or 0)
        memories = answer.get("memories")
        return len(memories) if isinstance(memories, list) else None

    @staticmethod
    def _paused(agents: Any) -> bool | None:
        if isinstance(agents, dict) and isinstance(agents.get("paused"), bool):
            return bool(agents["paused"])
        return None

    async def _read_events(self, snapshot: Snapshot) -> Snapshot:
        try:
            events = await self.client.events_since(self._seq or 0)
        except ControlError:
            return snapshot
        first_read = self._seq is None
        if events:
            self._seq = max(int(e.get("seq", 0)) for e in events)
        elif first_read:
            self._seq = 0
        local = snapshot.local_backends()
        last_cloud = snapshot.last_cloud_use
        for event in events:
            data = event.get("data") or {}
            if (
                event.get("kind") == "request.done"
                and data.get("backend")
                and data.get("backend") not in local
            ):
                # A reply replayed from the cache cost nothing and reached no provider.
                if (
                    not str(data.get("cache") or "").startswith("hit")
                    and int(data.get("status") or 200) < 400
                ):
                    last_cloud = max(last_cloud or 0.0, float(event.get("ts", time.time())))
            # The backlog seen at connect time is history: it sets the icon, but pops nothing up.
            if not first_read:
                self.event.emit(event)
        done = sum(1 for e in events if e.get("kind") == "request.done")
        if done and not first_read and snapshot.capabilities.has(REQUESTS):
            await self._find_private_reroutes(min(done, 50))
        return replace(snapshot, last_cloud_use=last_cloud)

    async def _find_private_reroutes(self, limit: int) -> None:
        """Requests kept local for privacy, found in the ledger (request.done events do not say)."""
        try:
            rows = await self.client.recent_requests(limit)
        except ControlError:
            return
        for row in reversed(rows):
            event = private_reroute(row)
            if event is not None and row.get("id") not in self._reported:
                self._reported.append(str(row.get("id")))
                self.event.emit(event)
