"""Single-flight: identical requests in flight share one backend stream.

The first request starts the backend stream in a task of its own; every identical request
(same cache key) that arrives while it runs reads the same chunks, from the beginning. A
waiter that stops reading (its client went away) leaves the others undisturbed; the
backend call is cancelled only when no waiter is left. An error reaches every waiter and
the failed flight is forgotten at once, so the next request starts afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from roundhouse.daemon.models import ChatChunk


class _Flight:
    def __init__(self, key: str, stream: AsyncIterator[ChatChunk], forget: Callable[[_Flight], None]) -> None:
        self.key = key
        self.chunks: list[ChatChunk] = []
        self.done = False
        self.error: BaseException | None = None
        self.waiters = 0
        self._forget = forget
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._pump(stream), name=f"flight-{key[:12]}")

    async def _pump(self, stream: AsyncIterator[ChatChunk]) -> None:
        try:
            async for chunk in stream:
                self.chunks.append(chunk)
                self._notify()
        except asyncio.CancelledError:
            self.error = asyncio.CancelledError("the shared backend call was cancelled")
            raise
        except Exception as exc:
            self.error = exc
            # A failure is never shared with requests that arrive later.
            self._forget(self)
        finally:
            self.done = True
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
            self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[ChatChunk]:
        self.waiters += 1
        try:
            index = 0
            while True:
                changed = self._changed
                while index < len(self.chunks):
                    yield self.chunks[index]
                    index += 1
                if self.done:
                    if self.error is not None:
                        raise self.error
                    return
                await changed.wait()
        finally:
            self.waiters -= 1
            if self.waiters == 0:
                self._forget(self)
                if not self.done:
                    self._task.cancel()


class SingleFlightGroup:
    """Implements the `SingleFlight` protocol of daemon/components.py."""

    def __init__(self) -> None:
        self._flights: dict[str, _Flight] = {}
        self.started = 0  # backend streams started
        self.joined = 0  # requests that rode along on a stream already in flight

    def run(self, key: str | None, start: Callable[[], AsyncIterator[ChatChunk]]) -> AsyncIterator[ChatChunk]:
        if key is None:
            return start()
        return self._run(key, start)

    async def _run(self, key: str, start: Callable[[], AsyncIterator[ChatChunk]]) -> AsyncIterator[ChatChunk]:
        flight = self._flights.get(key)
        if flight is None or flight.error is not None:
            flight = _Flight(key, start(), self._forget)
            self._flights[key] = flight
            self.started += 1
        else:
            self.joined += 1
        follower = flight.follow()
        try:
            async for chunk in follower:
                yield chunk
        finally:
            await follower.aclose()

    def _forget(self, flight: _Flight) -> None:
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]

    def in_flight(self) -> int:
        return len(self._flights)

    def stats(self) -> dict[str, int]:
        return {"in_flight": len(self._flights), "started": self.started, "joined": self.joined}
