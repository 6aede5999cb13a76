"""The memory component: insights in, a small reviewed memory out, kept in step with Open WebUI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import sqlite_utils

from roundhouse.daemon.memory.book import MemoryBook, add_decision, add_history, put_insight, put_memory
from roundhouse.daemon.memory.curator import Curator, LiveIndex, Verdict
from roundhouse.daemon.memory.decay import expired, strength
from roundhouse.daemon.memory.records import Insight, Memory, MemoryKind, new_id
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.memory.synthesis import Synthesizer
from roundhouse.daemon.store import Store

log = logging.getLogger(__name__)
# The curator compares new insights with these: live memories, and rejected ones so that a
# rejected memory does not come back by another wording.
INDEXED: tuple[str, ...] = ("pending", "approved", "rejected")
EXPORT_VERSION = 1


class EmbedderLike(Protocol):
    async def embed(self, texts: list[str]) -> np.ndarray: ...


class EventsLike(Protocol):
    def publish(self, kind: str, data: dict[str, Any] | None = None) -> Any: ...


class MemoryInputError(ValueError):
    """Bad input from a user of the memory API (unknown id, wrong state, bad import file)."""


class MemoryService:
    def __init__(
        self,
        *,
        store: Store,
        embedder: EmbedderLike,
        settings: MemorySettings,
        events: EventsLike | None = None,
        synthesizer: Synthesizer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.book = MemoryBook(store)
        self.embedder = embedder
        self.events = events
        self.curator = Curator(settings.curator)
        self.synthesizer = synthesizer
        self.clock = clock
        self.index = LiveIndex()
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._decay_task: asyncio.Task[None] | None = None
        self._load_index()

    def _load_index(self) -> None:
        self.index.clear()
        for memory in self.book.memories(INDEXED):
            self.index.put(memory)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after any change to what is approved (the Open WebUI sync listens)."""
        self._listeners.append(listener)

    def _changed(self, kind: str, **data: Any) -> None:
        if self.events is not None:
            self.events.publish(f"memory.{kind}", data)
        for listener in self._listeners:
            listener()

    # life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._decay_task is None:
            self._decay_task = asyncio.create_task(self._decay_loop(), name="memory-decay")

    async def stop(self) -> None:
        if self._decay_task is not None:
            self._decay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._decay_task
            self._decay_task = None

    async def _decay_loop(self) -> None:
        while True:
            try:
                await self.decay()
            except Exception:
                log.exception("memory: decay pass failed")
            await asyncio.sleep(self.settings.decay.check_every_s)

    # insights ------------------------------------------------------------------------------
    async def submit(self, insights: list[Insight]) -> list[dict[str, Any]]:
        """Curate each insight in order; returns the decisions (action, memory id, reasons)."""
        if not insights:
            return []
        vectors = await self.embedder.embed([i.text for i in insights])
        results: list[dict[str, Any]] = []
        async with self._lock:
            for insight, vector in zip(insights, vectors, strict=True):
                verdict = self.curator.decide(insight, vector, self.index)
                results.append(await self._apply(insight, np.asarray(vector, dtype=np.float32), verdict))
        return results

    def _initial_status(self, confidence: float) -> str:
        threshold = self.settings.review.auto_approve_confidence
        return "approved" if threshold is not None and confidence >= threshold else "pending"

    def _new_memory(self, insight: Insight, vector: np.ndarray, supersedes: str | None = None) -> Memory:
        now = self.clock()
        return Memory(
            id=new_id("mem"),
            text=insight.text.strip()[: self.settings.curator.max_memory_chars],
            kind=insight.kind,
            status=self._initial_status(insight.confidence),  # type: ignore[arg-type]
            created=now,
            updated=now,
            last_confirmed=now,
            confirmations=1,
            importance=insight.importance,
            confidence=insight.confidence,
            tags=list(insight.tags),
            private=insight.private,
            audience=None,
            vector=vector,
            insight_ids=[insight.id],
            supersedes=supersedes,
        )

    async def _apply(self, insight: Insight, vector: np.ndarray, verdict: Verdict) -> dict[str, Any]:
        scores, reasons = verdict.scores.as_dict(), list(verdict.reasons)
        target = verdict.target
        action = verdict.action
        outcome: dict[str, Any] = {
            "insight_id": insight.id,
            "conflict": verdict.conflict,
            "reasons": reasons,
            "scores": scores,
        }
        if target is not None and target.status == "rejected":
            if action == "MERGE":
                action = "DISCARD"
                reasons.append(f"{target.id} was rejected in review; not proposing it again")
            elif action == "SUPERSEDE":
                action, target = "ADD", None
                reasons.append("the contradicted memory was rejected; this one is proposed on its own")
        outcome["action"] = action
        outcome["target"] = target.id if target else None

        if action == "DISCARD":

            def discard(db: sqlite_utils.Database) -> None:
                put_insight(db, insight, "DISCARD", None)
                add_decision(db, insight.id, "DISCARD", None, scores, reasons)

            await self.book.write(discard)
            return {**outcome, "memory_id": None}

        if action == "ADD":
            memory = self._new_memory(insight, vector)

            def add(db: sqlite_utils.Database) -> None:
                put_memory(db, memory)
                add_history(db, memory.id, "added", memory.text, insight_id=insight.id, agent=insight.agent)
                put_insight(db, insight, "ADD", memory.id)
                add_decision(db, insight.id, "ADD", memory.id, scores, reasons)

            await self.book.write(add)
            self.index.put(memory)
            waiting = len(self.book.memories(("pending",), 10_000)) if memory.status == "pending" else 0
            # `waiting` is what the tray's "memories to review" popup shows.
            self._changed("added", id=memory.id, status=memory.status, waiting=waiting)
            return {**outcome, "memory_id": memory.id}

        assert target is not None
        now = self.clock()
        if action == "MERGE":
            before = target.text
            text = await self._phrase(target, insight)
            target.text = text
            target.updated = now
            target.last_confirmed = now
            target.confirmations += 1
            target.confidence = max(target.confidence, insight.confidence)
            target.importance = max(target.importance, insight.importance)
            target.insight_ids = [*target.insight_ids, insight.id][-50:]
            target.tags = sorted(set(target.tags) | set(insight.tags))
            target.private = target.private or insight.private
            if text != before:
                target.vector = (await self.embedder.embed([text]))[0]

            def merge(db: sqlite_utils.Database) -> None:
                put_memory(db, target)
                add_history(db, target.id, "merged", target.text, insight_id=insight.id, previous=before)
                put_insight(db, insight, "MERGE", target.id)
                add_decision(db, insight.id, "MERGE", target.id, scores, reasons)

            await self.book.write(merge)
            self.index.put(target)
            if text != before:
                self._changed("updated", id=target.id)
            return {**outcome, "memory_id": target.id}

        # SUPERSEDE: the new statement replaces the old one, which stays in history.
        memory = self._new_memory(insight, vector, supersedes=target.id)
        memory.private = memory.private or target.private
        memory.audience = target.audience
        target.status = "superseded"
        target.superseded_by = memory.id
        target.updated = now

        def supersede(db: sqlite_utils.Database) -> None:
            put_memory(db, memory)
            put_memory(db, target)
            add_history(db, target.id, "superseded", target.text, by=memory.id, insight_id=insight.id)
            add_history(db, memory.id, "added", memory.text, supersedes=target.id, insight_id=insight.id)
            put_insight(db, insight, "SUPERSEDE", memory.id)
            add_decision(db, insight.id, "SUPERSEDE", memory.id, scores, [*reasons, f"replaces {target.id}"])

        await self.book.write(supersede)
        self.index.drop(target.id)
        self.index.put(memory)
        self._changed("superseded", id=target.id, by=memory.id)
        return {**outcome, "memory_id": memory.id}

    async def _phrase(self, target: Memory, insight: Insight) -> str:
        if self.synthesizer is None:
            return target.text
        if (target.private or insight.private) and not self.synthesizer.local:
            return target.text  # private content never goes to a cloud model
        return await self.synthesizer.merge(target.text, insight.text)

    # review --------------------------------------------------------------------------------
    def list(self, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        statuses = (status,) if status else None
        now = self.clock()
        rows = []
        for memory in self.book.memories(statuses, limit):
            data = memory.public()
            data["strength"] = round(strength(memory, now, self.settings.decay), 4)
            rows.append(data)
        return rows

    def get(self, memory_id: str) -> dict[str, Any]:
        memory = self._require(memory_id)
        data = memory.public()
        data["history"] = self.book.history(memory_id)
        data["insights"] = [i for i in (self.book.insight(x) for x in memory.insight_ids) if i is not None]
        return data

    def _require(self, memory_id: str) -> Memory:
        memory = self.book.memory(memory_id)
        if memory is None:
            raise KeyError(memory_id)
        return memory

    async def _set_status(self, memory_id: str, status: str, expect: tuple[str, ...]) -> dict[str, Any]:
        async with self._lock:
            memory = self._require(memory_id)
            if memory.status not in expect:
                raise MemoryInputError(
                    f"memory {memory_id} is {memory.status}; only {'/'.join(expect)} can be {status}"
                )
            memory.status = status  # type: ignore[assignment]
            memory.updated = self.clock()

            def save(db: sqlite_utils.Database) -> None:
                put_memory(db, memory)
                add_history(db, memory.id, status, memory.text)

            await self.book.write(save)
            if status in INDEXED:
                self.index.put(memory)
            else:
                self.index.drop(memory.id)
        self._changed(status, id=memory_id)
        return memory.public()

    async def approve(self, memory_id: str) -> dict[str, Any]:
        return await self._set_status(memory_id, "approved", ("pending", "rejected", "expired"))

    async def reject(self, memory_id: str) -> dict[str, Any]:
        return await self._set_status(memory_id, "rejected", ("pending", "approved"))

    async def edit(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        kind: MemoryKind | None = None,
        tags: list[str] | None = None,
        audience: str | None = None,
        private: bool | None = None,
    ) -> dict[str, Any]:
        async with self._lock:
            memory = self._require(memory_id)
            before = memory.text
            if text is not None:
                text = text.strip()
                if not text:
                    raise MemoryInputError("a memory cannot be empty")
                if len(text) > self.settings.curator.max_memory_chars * 4:
                    raise MemoryInputError(
                        f"a memory is at most {self.settings.curator.max_memory_chars * 4} characters"
                    )
                memory.text = text
                memory.vector = (await self.embedder.embed([text]))[0]
            if kind is not None:
                memory.kind = kind
            if tags is not None:
                memory.tags = list(tags)
            if audience is not None:
                memory.audience = audience or None
            if private is not None:
                memory.private = private
            memory.updated = self.clock()
            # An edit by the user is a confirmation.
            memory.last_confirmed = memory.updated

            def save(db: sqlite_utils.Database) -> None:
                put_memory(db, memory)
                add_history(db, memory.id, "edited", memory.text, previous=before)

            await self.book.write(save)
            if memory.status in INDEXED:
                self.index.put(memory)
        self._changed("updated", id=memory_id)
        return memory.public()

    async def delete(self, memory_id: str) -> None:
        async with self._lock:
            self._require(memory_id)

            def remove(db: sqlite_utils.Database) -> None:
                db.execute("DELETE FROM memory_items WHERE id = ?", [memory_id])
                db.execute("DELETE FROM memory_history WHERE memory_id = ?", [memory_id])

            await self.book.write(remove)
            self.index.drop(memory_id)
        self._changed("deleted", id=memory_id)

    async def delete_all(self) -> int:
        """Every memory, its history, the insights and decisions behind it: gone."""
        async with self._lock:

            def wipe(db: sqlite_utils.Database) -> int:
                count = int(next(iter(db.query("SELECT COUNT(*) AS n FROM memory_items")))["n"])
                for table in ("memory_items", "memory_history", "memory_insights", "memory_decisions"):
                    db.execute(f"DELETE FROM {table}")
                return count

            count = int(await self.book.write(wipe))
            self.index.clear()
        self._changed("cleared", count=count)
        return count

    # decay ---------------------------------------------------------------------------------
    async def decay(self, now: float | None = None) -> list[str]:
        """Expire memories that have not been reconfirmed for long enough; returns their ids."""
        now = self.clock() if now is None else now
        gone: list[Memory] = []
        async with self._lock:
            for memory in self.book.memories(("pending", "approved")):
                if expired(memory, now, self.settings.decay):
                    memory.status = "expired"
                    memory.updated = now
                    gone.append(memory)
            if gone:

                def save(db: sqlite_utils.Database) -> None:
                    for memory in gone:
                        put_memory(db, memory)
                        add_history(db, memory.id, "expired", memory.text)

                await self.book.write(save)
                for memory in gone:
                    self.index.drop(memory.id)
        if gone:
            self._changed("expired", ids=[m.id for m in gone])
        return [m.id for m in gone]

    # export / import -----------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        memories = []
        for memory in self.book.memories():
            data = memory.public()
            data["history"] = self.book.history(memory.id)
            memories.append(data)
        return {
            "format": "roundhouse-memory",
            "version": EXPORT_VERSION,
            "exported_at": self.clock(),
            "memories": memories,
        }

    async def import_(self, data: dict[str, Any]) -> dict[str, int]:
        if not isinstance(data, dict) or data.get("format") != "roundhouse-memory":
            raise MemoryInputError("not a Roundhouse memory export (expected format 'roundhouse-memory')")
        if int(data.get("version", 0)) > EXPORT_VERSION:
            raise MemoryInputError(
                f"export version {data.get('version')} is newer than this Roundhouse understands"
            )
        items = data.get("memories")
        if not isinstance(items, list):
            raise MemoryInputError("'memories' must be a list")
        parsed = [_imported(item, position) for position, item in enumerate(items)]
        added = skipped = 0
        vectors = await self.embedder.embed([m.text for m in parsed]) if parsed else []
        async with self._lock:
            existing_ids = {m.id for m in self.book.memories()}
            existing_texts = {m.text.strip().lower() for m in self.book.memories()}
            fresh: list[Memory] = []
            for memory, vector in zip(parsed, vectors, strict=True):
                key = memory.text.strip().lower()
                if memory.id in existing_ids or key in existing_texts:
                    skipped += 1
                    continue
                memory.vector = np.asarray(vector, dtype=np.float32)
                existing_ids.add(memory.id)
                existing_texts.add(key)
                fresh.append(memory)
                added += 1

            def save(db: sqlite_utils.Database) -> None:
                for memory in fresh:
                    put_memory(db, memory)
                    add_history(db, memory.id, "imported", memory.text)

            await self.book.write(save)
            for memory in fresh:
                if memory.status in INDEXED:
                    self.index.put(memory)
        if added:
            self._changed("imported", count=added)
        return {"added": added, "skipped": skipped}

    # reading for injection -----------------------------------------------------------------
    async def relevant(self, text: str, k: int, minimum: float) -> list[tuple[Memory, float]]:
        if not text.strip() or len(self.index) == 0:
            return []
        vector = (await self.embedder.embed([text]))[0]
        found = self.index.nearest(vector, minimum, limit=max(k * 4, 8))
        return [(m, s) for m, s in found if m.status == "approved"][:k]

    def approved(self) -> list[Memory]:
        return self.book.memories(("approved",))


def _imported(item: Any, position: int) -> Memory:
    if not isinstance(item, dict):
        raise MemoryInputError(f"memories[{position}] is not an object")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise MemoryInputError(f"memories[{position}].text must be a non-empty string")
    kind = item.get("kind", "context")
    if kind not in ("context", "user"):
        raise MemoryInputError(f"memories[{position}].kind must be 'context' or 'user'")
    status = item.get("status", "pending")
    if status not in ("pending", "approved", "rejected", "superseded", "expired"):
        raise MemoryInputError(f"memories[{position}].status '{status}' is not a memory status")
    now = time.time()

    def number(name: str, default: float) -> float:
        value = item.get(name, default)
        if not isinstance(value, int | float):
            raise MemoryInputError(f"memories[{position}].{name} must be a number")
        return float(value)

    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise MemoryInputError(f"memories[{position}].tags must be a list of strings")
    return Memory(
        id=str(item.get("id") or new_id("mem")),
        text=text.strip(),
        kind=kind,
        status=status,
        created=number("created", now),
        updated=number("updated", now),
        last_confirmed=number("last_confirmed", now),
        confirmations=int(number("confirmations", 1)),
        importance=number("importance", 0.5),
        confidence=number("confidence", 0.7),
        tags=tags,
        private=bool(item.get("private", False)),
        audience=item.get("audience") if isinstance(item.get("audience"), str) else None,
        vector=None,
        insight_ids=[str(x) for x in item.get("insight_ids", []) if isinstance(x, str)],
        supersedes=item.get("supersedes") if isinstance(item.get("supersedes"), str) else None,
        superseded_by=item.get("superseded_by") if isinstance(item.get("superseded_by"), str) else None,
    )
