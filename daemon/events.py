"""An in-process event bus: components publish, the control API streams to the tray."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


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
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._queue_size = queue_size
        self._seq = 0

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> Event:
        self._seq += 1
        event = Event(kind=kind, data=data or {}, seq=self._seq)
        self._recent.append(event)
        for q in self._subscribers:
            if q.full():
                q.get_nowait()
            q.put_nowait(event)
        return event

    def recent(self, since: int = 0, kinds: set[str] | None = None) -> list[Event]:
        return [e for e in self._recent if e.seq > since and (kinds is None or e.kind in kinds)]

    async def subscribe(self) -> AsyncIterator[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(maxsize=self._queue_size)
        self._subscribers.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._subscribers.discard(q)
