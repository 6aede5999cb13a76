"""Where one model with several placements sends a request."""

from __future__ import annotations

from roundhouse.daemon.fleet.placement import GB, Candidate, HostView, rank


def _hosts(*views: HostView) -> dict[str, HostView]:
    return {v.name: v for v in views}


def _order(candidates: list[Candidate], views: dict[str, HostView]) -> list[str]:
    return [r.candidate.host for r in rank(candidates, views)]


CANDIDATES = [Candidate("a", "llama3.1:8b", 5 * GB), Candidate("b", "llama3.1:8b", 5 * GB)]


def test_the_host_that_has_the_model_loaded_comes_first() -> None:
    views = _hosts(HostView("a", free_bytes=20 * GB), HostView("b", loaded=frozenset({"llama3.1:8b"})))
    ranked = rank(CANDIDATES, views)
    assert ranked[0].candidate.host == "b" and ranked[0].loaded
    assert "loaded there" in ranked[0].reason()


def test_a_long_queue_on_the_loaded_host_sends_work_to_an_idle_one() -> None:
    views = _hosts(
        HostView("a", free_bytes=20 * GB),
        HostView("b", loaded=frozenset({"llama3.1:8b"}), queue=12, service_s=2.0),
    )
    assert _order(CANDIDATES, views) == ["a", "b"]


def test_a_host_without_room_ranks_below_one_with_free_memory() -> None:
    views = _hosts(HostView("a", free_bytes=1 * GB), HostView("b", free_bytes=16 * GB))
    ranked = rank(CANDIDATES, views)
    assert [r.candidate.host for r in ranked] == ["b", "a"]
    assert not ranked[1].fits and "needs room made" in ranked[1].reason()


def test_a_host_that_is_down_is_last_whatever_it_holds() -> None:
    views = _hosts(HostView("a", up=False, loaded=frozenset({"llama3.1:8b"})), HostView("b", queue=3))
    ranked = rank(CANDIDATES, views)
    assert [r.candidate.host for r in ranked] == ["b", "a"]
    assert not ranked[1].up and ranked[1].reason() == "a is down"


def test_equal_hosts_keep_the_configured_order() -> None:
    views = _hosts(HostView("a"), HostView("b"))
    assert _order(CANDIDATES, views) == ["a", "b"]
    assert _order(list(reversed(CANDIDATES)), views) == ["b", "a"]


def test_a_host_holding_all_the_models_it_may_needs_room_made_for_another() -> None:
    views = _hosts(HostView("a", loaded=frozenset({"phi3"}), full=True), HostView("b"))
    ranked = rank(CANDIDATES, views)
    assert [r.candidate.host for r in ranked] == ["b", "a"] and not ranked[1].fits
