"""The per-backend priority queue: people before agents, concurrency, depth limit."""

from __future__ import annotations

import asyncio

import pytest

from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.models import Priority
from roundhouse.daemon.scheduling.factory import concurrency_rule
from roundhouse.daemon.scheduling.priority_queue import PriorityScheduler
from roundhouse.daemon.scheduling.settings import SchedulingSettings

PERSON, AGENT = Priority.INTERACTIVE, Priority.BACKGROUND


def scheduler(limit: int = 1, depth: int = 64, delay: float = 0.0, **kw: object) -> PriorityScheduler:
    return PriorityScheduler(lambda name: limit, max_queue_depth=depth, resume_delay_s=delay, **kw)  # type: ignore[arg-type]


async def job(
    s: PriorityScheduler, backend: str, priority: Priority, name: str, log: list[str], hold: asyncio.Event
) -> None:
    async with s.slot(backend, priority):
        log.append(name)
        await hold.wait()


async def test_interactive_requests_overtake_queued_background_work() -> None:
    s = scheduler(limit=1)
    order: list[str] = []
    hold = asyncio.Event()
    first = asyncio.create_task(job(s, "ollama", PERSON, "first", order, hold))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(job(s, "ollama", AGENT, f"agent{i}", order, hold)) for i in range(3)]
    await asyncio.sleep(0)
    queued.append(asyncio.create_task(job(s, "ollama", PERSON, "person", order, hold)))
    await asyncio.sleep(0.01)
    hold.set()
    await asyncio.gather(first, *queued)
    assert order == ["first", "person", "agent0", "agent1", "agent2"]


async def test_concurrency_per_backend_is_respected() -> None:
    s = PriorityScheduler(lambda name: 2 if name == "openai" else 1, max_queue_depth=64)
    running = {"ollama": 0, "openai": 0}
    peak = {"ollama": 0, "openai": 0}

    async def work(backend: str) -> None:
        async with s.slot(backend, PERSON):
            running[backend] += 1
            peak[backend] = max(peak[backend], running[backend])
            await asyncio.sleep(0.005)
            running[backend] -= 1

    await asyncio.gather(*(work(b) for b in ["ollama"] * 5 + ["openai"] * 6))
    assert peak == {"ollama": 1, "openai": 2}


async def test_full_queue_refuses_with_retry_after_and_agents_never_crowd_out_people() -> None:
    s = scheduler(limit=1, depth=2)
    hold = asyncio.Event()
    log: list[str] = []
    tasks = [asyncio.create_task(job(s, "ollama", PERSON, "running", log, hold))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(job(s, "ollama", AGENT, f"agent{i}", log, hold)) for i in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull) as refused:
        async with s.slot("ollama", AGENT):
            pass
    assert refused.value.backend == "ollama" and refused.value.retry_after >= 1
    # A person still gets in line: only interactive requests count against them.
    tasks.append(asyncio.create_task(job(s, "ollama", PERSON, "person", log, hold)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(job(s, "ollama", PERSON, "person2", log, hold)))
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):
        async with s.slot("ollama", PERSON):
            pass
    hold.set()
    await asyncio.gather(*tasks)
    assert log[:3] == ["running", "person", "person2"]
    assert s.stats()["backends"]["ollama"]["refused"] == 2


async def test_background_work_pauses_while_people_are_served_and_resumes_after() -> None:
    s = scheduler(limit=4, delay=0.05)
    hold = asyncio.Event()
    log: list[str] = []
    person = asyncio.create_task(job(s, "ollama", PERSON, "person", log, hold))
    await asyncio.sleep(0)
    assert s.background_paused
    # Even on another backend with free slots, agent work waits (global pause).
    agent = asyncio.create_task(job(s, "openai", AGENT, "agent", log, asyncio.Event()))
    await asyncio.sleep(0.02)
    assert log == ["person"]
    hold.set()
    await person
    await asyncio.sleep(0)
    assert log == ["person"]  # not yet: resumes after the delay
    await asyncio.wait_for(s.wait_background_turn(), 2)
    await asyncio.sleep(0.01)
    assert log == ["person", "agent"]
    assert not s.background_paused
    agent.cancel()


async def test_backend_scope_only_pauses_agents_on_the_busy_backend() -> None:
    s = scheduler(limit=2, pause_scope="backend")
    hold = asyncio.Event()
    log: list[str] = []
    person = asyncio.create_task(job(s, "ollama", PERSON, "person", log, hold))
    await asyncio.sleep(0)
    other = asyncio.create_task(job(s, "cloud", AGENT, "agent-cloud", log, hold))
    same = asyncio.create_task(job(s, "ollama", AGENT, "agent-ollama", log, hold))
    await asyncio.sleep(0.01)
    assert log == ["person", "agent-cloud"]
    hold.set()
    await asyncio.gather(person, other, same)
    assert log[-1] == "agent-ollama"


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    s = scheduler(limit=1)
    hold = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(job(s, "ollama", PERSON, "first", log, hold))
    await asyncio.sleep(0)
    gone = asyncio.create_task(job(s, "ollama", PERSON, "gone", log, hold))
    after = asyncio.create_task(job(s, "ollama", PERSON, "after", log, hold))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    hold.set()
    await asyncio.gather(first, after)
    assert log == ["first", "after"]
    assert s.stats()["backends"]["ollama"]["running"] == 0


def test_ollama_and_embedded_default_to_one_request_at_a_time() -> None:
    rule = concurrency_rule(SchedulingSettings(concurrency={"ollama-2": 3}), {})
    assert rule("ollama") == 1
    assert rule("embedded") == 1
    assert rule("ollama-2") == 3
    assert rule("cloud") == SchedulingSettings().default_remote_concurrency
    assert rule("embedded:embeddings") == SchedulingSettings().embed_concurrency
