"""The event bus: what subscribers and listeners receive, and in what order."""

from __future__ import annotations

import asyncio

from roundhouse.daemon.events import Event, EventBus


async def _take(subscription: object, count: int) -> list[Event]:
    return [await asyncio.wait_for(anext(subscription), 1) for _ in range(count)]  # type: ignore[call-overload]


async def test_a_subscriber_for_some_kinds_gets_only_those() -> None:
    bus = EventBus()
    everything, budget_only = bus.subscribe(), bus.subscribe({"budget.threshold"})
    first = [asyncio.ensure_future(anext(s)) for s in (everything, budget_only)]
    await asyncio.sleep(0)  # both subscriptions are registered once their generators start
    bus.publish("request.done", {"id": "a"})
    bus.publish("budget.threshold", {"scope": "*"})
    bus.publish("request.done", {"id": "b"})
    got_all = [await first[0], *await _take(everything, 2)]
    got_budget = await first[1]
    assert [e.kind for e in got_all] == ["request.done", "budget.threshold", "request.done"]
    assert got_budget.kind == "budget.threshold"
    assert bus.recent(kinds={"request.done"})[-1].data == {"id": "b"}


async def test_listeners_run_in_publish_and_a_failing_one_harms_nothing() -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    def counter(event: Event) -> None:
        seen.append(event.data["id"])
        if event.data["id"] == "over":  # a listener that publishes in turn, like spend does
            bus.publish("budget.threshold", {"from": event.data["id"]})

    bus.listen("request.done", broken)
    bus.listen("request.done", counter)
    subscription = bus.subscribe()
    pending = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    bus.publish("request.done", {"id": "a"})
    bus.publish("request.done", {"id": "over"})
    assert seen == ["a", "over"]  # called inside publish, before any task runs
    events = [await pending, *await _take(subscription, 2)]
    # The subscriber sees the request before the threshold it caused.
    assert [(e.kind, e.seq) for e in events] == [
        ("request.done", 1),
        ("request.done", 2),
        ("budget.threshold", 3),
    ]

    bus.unlisten("request.done", counter)
    bus.publish("request.done", {"id": "later"})
    assert seen == ["a", "over"]
