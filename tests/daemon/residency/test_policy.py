"""The pure policy: which model to load, what to evict, when to wait."""

from __future__ import annotations

import random

from bench.residency_sim import scenario_agents, simulate_fifo, simulate_policy
from roundhouse.daemon.residency.policy import (
    GB,
    Drain,
    Load,
    ModelView,
    PolicyConfig,
    Refuse,
    ResidencyPolicy,
    Wait,
)


def view(name: str, gb: float, **kw: object) -> ModelView:
    kw.setdefault("load_seconds", 4.0)
    return ModelView(name, int(gb * GB), **kw)  # type: ignore[arg-type]


def policy(capacity_gb: float = 8.0, **kw: object) -> ResidencyPolicy:
    return ResidencyPolicy(PolicyConfig(capacity_bytes=int(capacity_gb * GB), **kw))  # type: ignore[arg-type]


def settled(name: str, gb: float, now: float = 1000.0, **kw: object) -> ModelView:
    """Resident, idle, loaded long ago and not used for a while."""
    return view(name, gb, resident=True, loaded_at=now - 900, last_used=now - 600, **kw)


def test_a_model_that_fits_loads_without_evicting() -> None:
    p = policy(8)
    decision = p.decide(1000, [settled("a", 3), view("b", 4, queued=1)])
    assert decision == Load("b", ())


def test_evicts_the_rarely_used_cheap_model_before_the_popular_expensive_one() -> None:
    p = policy(8)
    for t in range(10):
        p.record_use("popular", 100 + t, load_seconds=12, size_bytes=4 * GB)
    p.record_use("rare", 150, load_seconds=3, size_bytes=4 * GB)
    models = [
        settled("popular", 4, load_seconds=12),
        settled("rare", 4, load_seconds=3),
        view("new", 4, queued=1),
    ]
    assert p.decide(1000, models) == Load("new", ("rare",))


def test_a_victim_the_others_already_make_room_for_is_spared() -> None:
    p = policy(10)
    for t in range(5):
        p.record_use("w", 500 + t, load_seconds=4, size_bytes=3 * GB)
    # x (1 GB) is cheapest to lose but evicting z (5 GB) alone makes room, so x stays.
    models = [settled("x", 1), settled("z", 5), settled("w", 3), view("new", 4, queued=1)]
    assert p.decide(1000, models) == Load("new", ("z",))


def test_idle_past_break_even_goes_first_even_if_more_valuable() -> None:
    p = policy(8, idle_rent_ratio=10)
    for t in range(20):
        p.record_use("stale", 10 + t, load_seconds=4, size_bytes=4 * GB)
    p.record_use("fresh", 990, load_seconds=4, size_bytes=4 * GB)
    stale = view("stale", 4, resident=True, loaded_at=0, last_used=30)  # idle 970 s > 10 × 4 s
    fresh = view("fresh", 4, resident=True, loaded_at=0, last_used=990)  # idle 10 s
    assert p.decide(1000, [stale, fresh, view("new", 4, queued=1)]) == Load("new", ("stale",))


def test_pinned_models_are_never_evicted_and_a_model_that_cannot_fit_beside_them_is_refused() -> None:
    p = policy(8)
    models = [settled("pinned", 6, pinned=True), view("big", 4, queued=1)]
    decision = p.decide(1000, models)
    assert isinstance(decision, Refuse)
    assert "big needs 4.0 GB" in decision.reason and "CPU spill is off" in decision.reason


def test_spill_allowed_loads_what_does_not_fit() -> None:
    p = policy(4, allow_spill=True)
    decision = p.decide(1000, [view("huge", 6, queued=1)])
    assert decision == Load("huge", (), True)


def test_a_busy_model_is_not_evicted_the_waiter_waits_then_drains_it() -> None:
    p = policy(6, max_wait_s=60)
    busy = view("busy", 4, resident=True, loaded_at=0, last_used=999, in_flight=2)
    assert isinstance(p.decide(1000, [busy, view("new", 4, queued=1, oldest_wait_s=5)]), Wait)
    assert p.decide(1000, [busy, view("new", 4, queued=1, oldest_wait_s=61)]) == Drain(("busy",), "new")
    # Drained: its last request finished; its own new requests wait for it, and it is evicted.
    drained = view("busy", 4, resident=True, loaded_at=0, last_used=1000, draining=True, queued=3)
    assert p.decide(1001, [drained, view("new", 4, queued=1, oldest_wait_s=62)]) == Load("new", ("busy",))


def test_a_fresh_load_keeps_the_gpu_for_background_work_but_not_against_a_person() -> None:
    p = policy(6, dwell_factor=25, dwell_idle_factor=6)
    fresh = view("agents", 4, resident=True, loaded_at=990, last_used=995, load_seconds=4)
    background = view("other", 4, queued=1, oldest_wait_s=3)
    assert isinstance(p.decide(1000, [fresh, background]), Wait)
    person = view("other", 4, queued=1, oldest_wait_s=3, oldest_urgent_wait_s=0.1)
    assert p.decide(1000, [fresh, person]) == Load("other", ("agents",))
    # After 25 × its 4 s load time the fresh model no longer holds the background waiter off.
    assert p.decide(1101, [fresh, background]) == Load("other", ("agents",))


def test_max_loaded_counts_models_not_only_bytes() -> None:
    p = policy(100, max_loaded=2)
    models = [settled("a", 1), settled("b", 1), view("c", 1, queued=1)]
    decision = p.decide(1000, models)
    assert isinstance(decision, Load) and len(decision.evict) == 1


def test_release_idle_only_when_asked_and_never_pinned() -> None:
    models = [settled("old", 2), settled("keep", 2, pinned=True), view("busy", 2, resident=True, in_flight=1)]
    assert policy(8).expired(1000, models) == []
    assert policy(8, release_idle=True, idle_rent_ratio=10).expired(1000, models) == ["old"]


def test_preload_pinned_then_likely_next_only_when_idle() -> None:
    p = policy(8)
    models = [settled("a", 2), view("pinned", 2, pinned=True), view("often", 2)]
    assert p.preload(1000, models) == "pinned"
    p.record_use("often", 990, load_seconds=4, size_bytes=2 * GB)
    models = [settled("a", 2), view("often", 2), view("never", 2)]
    assert p.preload(1000, models) == "often"
    models[0].in_flight = 1
    assert p.preload(1000, models) is None


def test_fewer_loads_than_ollamas_policy_on_the_agents_workload() -> None:
    scenario = scenario_agents(random.Random(7), hours=0.5)
    ollama = simulate_fifo(scenario, ttl_s=300, max_loaded=3, victim="ollama")
    ours = simulate_policy(scenario, policy(scenario.capacity_gb))
    assert ours.served == ollama.served == len(scenario.requests)
    assert ours.loads <= 0.6 * ollama.loads
