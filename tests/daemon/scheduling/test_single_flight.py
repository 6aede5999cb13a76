"""Single-flight with real async generator streams: one backend call, fanned out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from roundhouse.daemon.models import ChatChunk
from roundhouse.daemon.scheduling.single_flight import SingleFlightGroup


class Backend:
    """A streaming source that counts calls and can be held between chunks."""

    def __init__(self, pieces: int = 5, fail_after: int | None = None) -> None:
        self.calls = 0
        self.closed = 0
        self.pieces = pieces
        self.fail_after = fail_after
        self.gate = asyncio.Event()
        self.gate.set()

    async def stream(self) -> AsyncIterator[ChatChunk]:
        self.calls += 1
        try:
            for i in range(self.pieces):
                await self.gate.wait()
                await asyncio.sleep(0)
                if self.fail_after is not None and i == self.fail_after:
                    raise RuntimeError("backend fell over")
                yield ChatChunk(content=f"t{i} ")
            yield ChatChunk(finish_reason="stop")
        finally:
            self.closed += 1


async def collect(stream: AsyncIterator[ChatChunk]) -> str:
    return "".join([c.content async for c in stream])


async def test_fifty_identical_concurrent_requests_make_one_backend_call() -> None:
    backend = Backend()
    flights = SingleFlightGroup()
    backend.gate.clear()
    tasks = [asyncio.create_task(collect(flights.run("k", backend.stream))) for _ in range(50)]
    await asyncio.sleep(0.01)
    backend.gate.set()
    answers = await asyncio.gather(*tasks)
    assert backend.calls == 1
    assert set(answers) == {"t0 t1 t2 t3 t4 "}
    assert flights.stats()["joined"] == 49
    assert flights.in_flight() == 0


async def test_different_keys_and_no_key_are_not_shared() -> None:
    backend = Backend()
    flights = SingleFlightGroup()
    await asyncio.gather(
        collect(flights.run("a", backend.stream)),
        collect(flights.run("b", backend.stream)),
        collect(flights.run(None, backend.stream)),
        collect(flights.run(None, backend.stream)),
    )
    assert backend.calls == 4


async def test_late_joiner_gets_the_whole_stream_from_the_start() -> None:
    backend = Backend()
    flights = SingleFlightGroup()
    first = flights.run("k", backend.stream)
    head = [await first.__anext__(), await first.__anext__()]
    late = asyncio.create_task(collect(flights.run("k", backend.stream)))
    rest = [c async for c in first]
    assert "".join(c.content for c in head + rest) == await late == "t0 t1 t2 t3 t4 "
    assert backend.calls == 1


async def test_one_waiter_leaving_does_not_cancel_the_others() -> None:
    backend = Backend()
    flights = SingleFlightGroup()
    backend.gate.clear()
    leaver = flights.run("k", backend.stream)
    stayer = asyncio.create_task(collect(flights.run("k", backend.stream)))
    backend.gate.set()
    await leaver.__anext__()
    backend.gate.clear()
    await leaver.aclose()  # the client disconnected
    backend.gate.set()
    assert await stayer == "t0 t1 t2 t3 t4 "
    assert backend.calls == 1


async def test_a_cancelled_waiter_task_does_not_cancel_the_others() -> None:
    backend = Backend()
    flights = SingleFlightGroup()
    backend.gate.clear()
    doomed = asyncio.create_task(collect(flights.run("k", backend.stream)))
    survivor = asyncio.create_task(collect(flights.run("k", backend.stream)))
    await asyncio.sleep(0.01)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    backend.gate.set()
    assert await survivor == "t0 t1 t2 t3 t4 "
    assert backend.calls == 1


async def test_backend_call_is_cancelled_when_every_waiter_is_gone() -> None:
    backend = Backend(pieces=1000)
    flights = SingleFlightGroup()
    streams = [flights.run("k", backend.stream) for _ in range(3)]
    for s in streams:
        await s.__anext__()
    for s in streams:
        await s.aclose()
    for _ in range(20):
        if backend.closed:
            break
        await asyncio.sleep(0.01)
    assert backend.closed == 1
    assert flights.in_flight() == 0
    # The next identical request starts a new call instead of joining a dead one.
    backend.pieces = 2
    assert await collect(flights.run("k", backend.stream)) == "t0 t1 "
    assert backend.calls == 2


async def test_failure_reaches_every_waiter_and_is_not_reused() -> None:
    backend = Backend(fail_after=2)
    flights = SingleFlightGroup()
    backend.gate.clear()
    tasks = [asyncio.create_task(collect(flights.run("k", backend.stream))) for _ in range(5)]
    await asyncio.sleep(0.01)
    backend.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "fell over" in str(r) for r in results)
    assert backend.calls == 1
    backend.fail_after = None
    assert await collect(flights.run("k", backend.stream)) == "t0 t1 t2 t3 t4 "
    assert backend.calls == 2
