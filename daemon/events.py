"""An in-process event bus: components publish, the control API streams to the tray."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Event:
    kind: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)
    seq: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "data": self.data}


class EventBus:
    """Fan-out of events to subscribers, keeping the last `history` events for late readers.

    A slow subscriber loses its oldest undelivered events rather than slowing publishers.
    """

    def __init__(self, history: int = 500, queue_size: int = 1000) -> None:
        self._recent: deque[Event] = deque(maxlen=history)
        # Each subscriber's queue with the kinds it wants (None: every kind).
        self._subscribers: dict[asyncio.Queue[Event], frozenset[str] | None] = {}
        self._listeners: dict[str, list[Callable[[Event], None]]] = {}
        self._queue_size = queue_size
        self._seq = 0

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> Event:
        self._seq += 1
        event = Event(kind=kind, data=data or {}, seq=self._seq)
        self._recent.append(event)
        for q, kinds in self._subscribers.items():
            if kinds is not None and kind not in kinds:
                continue
            if q.full():
                q.get_nowait()
            q.put_nowait(event)
        # After the queues, so that what a listener publishes in turn reaches them in order.
        for listener in self._listeners.get(kind, ()):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of %s failed", kind)
        return event

    def listen(self, kind: str, listener: Callable[[Event], None]) -> None:
        """Call `listener` with every `kind` event, inside `publish`: for in-process bookkeeping
        that is quick, so a busy request path does not wake a task per event for it."""
        self._listeners.setdefault(kind, []).append(listener)

    def unlisten(self, kind: str, listener: Callable[[Event], None]) -> None:
        listeners = self._listeners.get(kind, [])
        if listener in listeners:
            listeners.remove(listener)

    def recent(self, since: int = 0, kinds: set[str] | None = None) -> list[Event]:
        return [e for e in self._recent if e.seq > since and (kinds is None or e.kind in kinds)]

    async def subscribe(self, kinds: set[str] | None = None) -> AsyncIterator[Event]:
        """Every event published from now on, or only those of `kinds`."""
        q: asyncio.Queue[Event] = asyncio.Queue(maxsize=self._queue_size)
        self._subscribers[q] = frozenset(kinds) if kinds is not None else None
        try:
            while True:
                yield await q.get()
        finally:
            self._subscribers.pop(q, None)
