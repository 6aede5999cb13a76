"""The response cache: exact answers by key, paraphrases by meaning, persisted in SQLite.

Implements the `ResponseCache` protocol of daemon/components.py. Everything the request
path needs lives in memory (an LRU of entries, a numpy matrix of prompt vectors); SQLite
keeps it across restarts and is written through the store's one writer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import sqlite_utils

from roundhouse.daemon.cache import guards, records
from roundhouse.daemon.cache.guards import PromptFeatures
from roundhouse.daemon.cache.keys import (
    SemanticQuery,
    directives,
    exact_key,
    is_deterministic,
    semantic_query,
)
from roundhouse.daemon.cache.records import Entry
from roundhouse.daemon.cache.semantic_index import SemanticIndex
from roundhouse.daemon.cache.settings import CacheSettings
from roundhouse.daemon.components import CacheLookup
from roundhouse.daemon.models import ChatChunk, ChatRequest
from roundhouse.daemon.routing.route import Route

log = logging.getLogger(__name__)

REMEMBERED_REQUESTS = 4096
PURGE_EVERY_S = 300.0


class StoreLike(Protocol):
    """The parts of daemon/store.py the cache uses."""

    @property
    def db(self) -> sqlite_utils.Database: ...

    def migrate(self, component: str, migrations: list[str]) -> int: ...

    async def write(self, fn: records.Write) -> Any: ...

    def submit(self, fn: records.Write) -> Any: ...


class EmbedderLike(Protocol):
    dimensions: int

    async def embed(self, texts: list[str]) -> np.ndarray: ...


class NearMissGuard(Protocol):
    """What tells two alike prompts apart (daemon/cache/guards.py; benchmarks pass older ones)."""

    def extract(self, text: str) -> Any: ...

    def mismatch(self, a: Any, b: Any) -> str | None: ...


@dataclass(slots=True)
class Probe:
    """What a semantic lookup learned, kept so `store` need not embed the prompt again."""

    query: SemanticQuery
    vector: np.ndarray
    features: PromptFeatures


@dataclass(slots=True)
class _Counters:
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    off: int = 0
    stored: int = 0
    evicted: int = 0
    expired: int = 0
    near_misses_refused: int = 0
    ambiguous_refused: int = 0
    feedback_good: int = 0
    feedback_bad: int = 0


@dataclass(slots=True)
class SemanticMatch:
    entry: Entry
    similarity: float


class Cache:
    def __init__(
        self,
        settings: CacheSettings,
        *,
        store: StoreLike | None = None,
        embedder: EmbedderLike | None = None,
        publish: Callable[[str, dict[str, Any]], object] | None = None,
        clock: Callable[[], float] = time.time,
        guard: NearMissGuard = guards,
    ) -> None:
        self.settings = settings
        self._guard = guard
        self._store = store
        self._embedder = embedder
        self._publish = publish
        self._clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._index = SemanticIndex(embedder.dimensions if embedder is not None else 384)
        self._probes: OrderedDict[str, Probe] = OrderedDict()
        self._served: OrderedDict[str, str] = OrderedDict()  # request id → entry key
        self._counters = _Counters()
        self._last_purge = clock()

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Create the table if needed and load unexpired entries (least recently used first)."""
        if self._store is None:
            return
        self._store.migrate(records.COMPONENT, records.MIGRATIONS)
        for entry, vector in records.load(self._store.db, self._clock()):
            self._remember(entry, vector)
        self._evict_over_limits()
        log.info("cache: %d entries loaded (%d with vectors)", len(self._entries), len(self._index))

    @property
    def semantic_enabled(self) -> bool:
        return self.settings.semantic.enabled and self._embedder is not None

    # -- the ResponseCache protocol -------------------------------------------------------

    async def lookup(self, request: ChatRequest, route: Route) -> CacheLookup:
        allowed = directives(request.cache_control)
        if not self._cacheable(request) or not allowed.store:
            self._counters.off += 1
            return CacheLookup(status="off")
        key = exact_key(request, route)
        if not allowed.lookup:
            self._counters.misses += 1
            return CacheLookup(status="miss", key=key)
        now = self._clock()
        entry = self._live(key, now)
        if entry is not None:
            self._counters.exact_hits += 1
            return self._hit(request, key, entry, "exact", now)
        if self.semantic_enabled:
            match = await self._semantic_lookup(request, route, key, now)
            if match is not None:
                self._counters.semantic_hits += 1
                return self._hit(request, key, match.entry, "semantic", now)
        self._counters.misses += 1
        return CacheLookup(status="miss", key=key)

    async def store(
        self, request: ChatRequest, route: Route, lookup: CacheLookup, chunks: list[ChatChunk]
    ) -> None:
        if lookup.status != "miss" or lookup.key is None or not _complete(chunks):
            return
        probe = self._probes.pop(lookup.key, None)
        if probe is None and self.semantic_enabled:
            query = semantic_query(request, route, self.settings.semantic.max_chars)
            if query is not None:
                assert self._embedder is not None
                vector = (await self._embedder.embed([query.text]))[0]
                probe = Probe(query, vector, self._guard.extract(query.text))
        await self.put(lookup.key, route.model.id, chunks, probe=probe)
        self._served[request.request_id] = lookup.key
        self._trim_served()

    # -- writing entries ------------------------------------------------------------------

    async def put(
        self, key: str, model: str, chunks: list[ChatChunk], *, probe: Probe | None = None
    ) -> Entry:
        entry = self._new_entry(key, model, chunks, probe)
        vector = probe.vector if probe is not None else None
        self._remember(entry, vector)
        self._counters.stored += 1
        evicted = self._evict_over_limits()
        if self._store is not None:
            await self._store.write(records.upsert(entry, vector))
            if evicted:
                await self._store.write(records.delete(evicted))
        if self._clock() - self._last_purge > PURGE_EVERY_S:
            await self.purge_expired()
        return entry

    @staticmethod
    def probe_for(text: str, scope: str, vector: np.ndarray, guard: NearMissGuard = guards) -> Probe:
        """A probe for text already embedded (benchmarks insert thousands at once)."""
        return Probe(SemanticQuery(scope=scope, text=text), vector, guard.extract(text))

    def _new_entry(self, key: str, model: str, chunks: list[ChatChunk], probe: Probe | None) -> Entry:
        now = self._clock()
        stored = [records.chunk_to_dict(c) for c in chunks]
        blob = json.dumps(stored, ensure_ascii=False)
        answer = hashlib.sha256(json.dumps([(c.get("c"), c.get("t")) for c in stored]).encode()).hexdigest()
        return Entry(
            key=key,
            model=model,
            chunks=stored,
            size=len(blob.encode("utf-8")) + 512,
            created=now,
            last_used=now,
            expires=now + self.settings.ttl_s,
            answer=answer,
            scope=probe.query.scope if probe is not None else None,
            features=probe.features if probe is not None else None,
            trust=self.settings.semantic.trust_initial,
        )

    def _remember(self, entry: Entry, vector: np.ndarray | None) -> None:
        self._forget(entry.key)
        self._entries[entry.key] = entry
        self._bytes += entry.size
        if vector is not None and entry.scope is not None:
            self._index.add(entry.key, entry.scope, vector)

    def _forget(self, key: str) -> Entry | None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
            self._index.remove(key)
        return entry

    def _evict_over_limits(self) -> list[str]:
        evicted: list[str] = []
        while self._entries and (
            len(self._entries) > self.settings.max_entries or self._bytes > self.settings.max_bytes
        ):
            key, _ = next(iter(self._entries.items()))
            self._forget(key)
            evicted.append(key)
        self._counters.evicted += len(evicted)
        return evicted

    async def purge_expired(self) -> int:
        now = self._clock()
        self._last_purge = now
        expired = [key for key, entry in self._entries.items() if entry.expires <= now]
        for key in expired:
            self._forget(key)
        self._counters.expired += len(expired)
        if self._store is not None:
            await self._store.write(
                lambda db: db.execute("DELETE FROM cache_entries WHERE expires <= ?", [now])
            )
        return len(expired)

    # -- reading entries ------------------------------------------------------------------

    def _cacheable(self, request: ChatRequest) -> bool:
        if not self.settings.enabled:
            return False
        return is_deterministic(request) or not self.settings.deterministic_only

    def _live(self, key: str, now: float) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= now:
            self._forget(key)
            self._counters.expired += 1
            if self._store is not None:
                self._store.submit(records.delete([key]))
            return None
        return entry

    def _hit(
        self, request: ChatRequest, key: str, entry: Entry, kind: Literal["exact", "semantic"], now: float
    ) -> CacheLookup:
        self._mark_served(request.request_id, entry, now)
        return CacheLookup(
            status="hit", key=key, chunks=entry.replay(), kind=kind, entry_id=entry.key, model=entry.model
        )

    def _mark_served(self, request_id: str, entry: Entry, now: float) -> None:
        entry.hits += 1
        entry.last_used = now
        self._entries.move_to_end(entry.key)
        self._served[request_id] = entry.key
        self._trim_served()
        if self._store is not None:
            self._store.submit(records.touch(entry.key, now, entry.hits))

    def _trim_served(self) -> None:
        while len(self._served) > REMEMBERED_REQUESTS:
            self._served.popitem(last=False)

    async def _semantic_lookup(
        self, request: ChatRequest, route: Route, key: str, now: float
    ) -> SemanticMatch | None:
        query = semantic_query(request, route, self.settings.semantic.max_chars)
        if query is None:
            return None
        assert self._embedder is not None
        vector = (await self._embedder.embed([query.text]))[0]
        probe = Probe(query, vector, self._guard.extract(query.text))
        self._probes[key] = probe
        while len(self._probes) > REMEMBERED_REQUESTS:
            self._probes.popitem(last=False)
        return self.match(probe, now)

    def match(self, probe: Probe, now: float | None = None) -> SemanticMatch | None:
        """The entry whose answer fits this prompt, if one is close, unambiguous and alike."""
        settings = self.settings.semantic
        now = self._clock() if now is None else now
        alike: list[tuple[Entry, float]] = []
        refused_near_miss = False
        for entry_key, similarity in self._index.search(probe.query.scope, probe.vector, settings.candidates):
            entry = self._entries.get(entry_key)
            if entry is None or entry.expires <= now or entry.features is None:
                continue
            if self._guard.mismatch(probe.features, entry.features) is not None:
                refused_near_miss = refused_near_miss or similarity >= settings.threshold
                continue
            alike.append((entry, similarity))
        if not alike:
            if refused_near_miss:
                self._counters.near_misses_refused += 1
            return None
        best, similarity = alike[0]
        if best.trust < settings.trust_floor:
            return None
        needed = settings.threshold + (settings.trust_initial - best.trust) * settings.trust_span
        if similarity < needed:
            return None
        for other, other_similarity in alike[1:]:
            if other_similarity >= similarity - settings.margin and other.answer != best.answer:
                self._counters.ambiguous_refused += 1
                return None
        return SemanticMatch(best, similarity)

    # -- feedback, stats, clearing ------------------------------------------------------

    async def feedback(self, ref: str, good: bool) -> dict[str, Any] | None:
        """`ref` is a request id (of a hit or of a stored answer) or an entry id.

        Good: the entry's trust rises, so it matches a little more readily. Bad: the entry
        is evicted and entries near it (any scope) lose trust. None when `ref` is unknown.
        """
        key = self._served.get(ref, ref)
        entry = self._entries.get(key)
        if entry is None:
            return None
        settings = self.settings.semantic
        if good:
            self._counters.feedback_good += 1
            entry.trust = min(1.0, entry.trust + settings.trust_good_step)
            if self._store is not None:
                await self._store.write(records.set_trust({key: entry.trust}))
            result = {"entry_id": key, "action": "trusted", "trust": entry.trust, "neighbours": 0}
        else:
            self._counters.feedback_bad += 1
            vector = self._index.vector(key)
            self._forget(key)
            lowered: dict[str, float] = {}
            if vector is not None:
                for other_key, _ in self._index.neighbours(vector, settings.neighbour_radius):
                    other = self._entries.get(other_key)
                    if other is not None:
                        other.trust = max(0.0, other.trust - settings.trust_bad_step)
                        lowered[other_key] = other.trust
            if self._store is not None:
                await self._store.write(records.delete([key]))
                if lowered:
                    await self._store.write(records.set_trust(lowered))
            result = {"entry_id": key, "action": "evicted", "trust": None, "neighbours": len(lowered)}
        if self._publish is not None:
            self._publish(
                "cache.feedback", {"entry_id": key, "good": good, "neighbours": result["neighbours"]}
            )
        return result

    def entry(self, key: str) -> Entry | None:
        return self._entries.get(key)

    async def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        self._index.clear()
        self._probes.clear()
        self._served.clear()
        self._bytes = 0
        if self._store is not None:
            await self._store.write(records.clear())
        if self._publish is not None:
            self._publish("cache.cleared", {"entries": count})
        return count

    def stats(self) -> dict[str, Any]:
        c = self._counters
        lookups = c.exact_hits + c.semantic_hits + c.misses
        return {
            "enabled": self.settings.enabled,
            "semantic_enabled": self.semantic_enabled,
            "entries": len(self._entries),
            "semantic_entries": len(self._index),
            "bytes": self._bytes,
            "max_entries": self.settings.max_entries,
            "max_bytes": self.settings.max_bytes,
            "ttl_s": self.settings.ttl_s,
            "lookups": lookups,
            "hits": {"exact": c.exact_hits, "semantic": c.semantic_hits},
            "hit_rate": round((c.exact_hits + c.semantic_hits) / lookups, 4) if lookups else 0.0,
            "misses": c.misses,
            "off": c.off,
            "stored": c.stored,
            "evicted": c.evicted,
            "expired": c.expired,
            "near_misses_refused": c.near_misses_refused,
            "ambiguous_refused": c.ambiguous_refused,
            "feedback": {"good": c.feedback_good, "bad": c.feedback_bad},
        }


def _complete(chunks: list[ChatChunk]) -> bool:
    """Only whole answers are kept: a stream that ended without a finish reason is not."""
    if not any(c.finish_reason for c in chunks):
        return False
    if any(c.finish_reason == "error" for c in chunks):
        return False
    return any(c.content or c.tool_calls for c in chunks)
