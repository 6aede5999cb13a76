"""Exact cache: key, determinism, Cache-Control, TTL, LRU, persistence in real SQLite."""

from __future__ import annotations

from pathlib import Path

from roundhouse.daemon.cache.service import Cache
from roundhouse.daemon.cache.settings import CacheSettings, SemanticCacheSettings
from roundhouse.daemon.store import Store
from tests.daemon.cache.helpers import answer, ask, route, text_of

EXACT_ONLY = {"semantic": SemanticCacheSettings(enabled=False)}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def remember(cache: Cache, text: str, reply: str, **kw: object) -> None:
    request = ask(text, **kw)  # type: ignore[arg-type]
    lookup = await cache.lookup(request, route())
    assert lookup.status == "miss"
    await cache.store(request, route(), lookup, answer(reply))


async def test_repeat_is_answered_from_the_cache_with_the_same_stream() -> None:
    cache = Cache(CacheSettings(**EXACT_ONLY))
    await remember(cache, "What is the capital of Australia?", "Canberra is the capital.")
    hit = await cache.lookup(ask("What is the capital of Australia?"), route())
    assert hit.status == "hit" and hit.kind == "exact"
    assert text_of(hit.chunks) == "Canberra is the capital."
    assert hit.chunks is not None and hit.chunks[-1].finish_reason == "stop"
    assert hit.chunks[-1].usage is not None and hit.chunks[-1].usage.completion_tokens == 4
    # Whitespace around the prompt does not make it another request; the model does.
    assert (await cache.lookup(ask("  What is the capital of Australia?\n"), route())).status == "hit"
    assert (
        await cache.lookup(ask("What is the capital of Australia?"), route("ollama/qwen3:8b"))
    ).status == "miss"


async def test_sampling_parameters_and_tools_are_part_of_the_key() -> None:
    cache = Cache(CacheSettings(**EXACT_ONLY))
    await remember(cache, "Name a colour.", "Blue.")
    assert (await cache.lookup(ask("Name a colour.", max_tokens=5), route())).status == "miss"
    assert (await cache.lookup(ask("Name a colour.", stop=["."]), route())).status == "miss"
    tools = [{"type": "function", "function": {"name": "paint", "parameters": {}}}]
    assert (await cache.lookup(ask("Name a colour.", tools=tools), route())).status == "miss"
    assert (await cache.lookup(ask("Name a colour."), route())).status == "hit"


async def test_only_deterministic_requests_are_cached_by_default() -> None:
    cache = Cache(CacheSettings(**EXACT_ONLY))
    assert (await cache.lookup(ask("Tell me a joke", temperature=0.8), route())).status == "off"
    assert (await cache.lookup(ask("Tell me a joke", temperature=None), route())).status == "off"
    assert (await cache.lookup(ask("Tell me a joke", temperature=0.8, seed=42), route())).status == "miss"
    assert (
        await cache.lookup(ask("Tell me a joke", temperature=None, options={"temperature": 0}), route())
    ).status == "miss"
    anything = Cache(CacheSettings(deterministic_only=False, **EXACT_ONLY))
    assert (await anything.lookup(ask("Tell me a joke", temperature=0.8), route())).status == "miss"


async def test_cache_control_no_cache_skips_lookup_and_no_store_turns_it_off() -> None:
    cache = Cache(CacheSettings(**EXACT_ONLY))
    await remember(cache, "What is 2+2?", "4")
    fresh = await cache.lookup(ask("What is 2+2?", cache_control="no-cache"), route())
    assert fresh.status == "miss" and fresh.key is not None
    await cache.store(ask("What is 2+2?"), route(), fresh, answer("Four"))
    assert text_of((await cache.lookup(ask("What is 2+2?"), route())).chunks) == "Four"
    off = await cache.lookup(ask("What is 3+3?", cache_control="no-store"), route())
    assert off.status == "off" and off.key is None
    await cache.store(ask("What is 3+3?"), route(), off, answer("6"))
    assert (await cache.lookup(ask("What is 3+3?"), route())).status == "miss"


async def test_incomplete_or_empty_answers_are_not_stored() -> None:
    cache = Cache(CacheSettings(**EXACT_ONLY))
    lookup = await cache.lookup(ask("Count to three"), route())
    await cache.store(ask("Count to three"), route(), lookup, answer("one two")[:-1])  # no finish
    assert (await cache.lookup(ask("Count to three"), route())).status == "miss"


async def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = Cache(CacheSettings(ttl_s=60, **EXACT_ONLY), clock=clock)
    await remember(cache, "What time zone is Perth in?", "AWST.")
    clock.now += 59
    assert (await cache.lookup(ask("What time zone is Perth in?"), route())).status == "hit"
    clock.now += 2
    assert (await cache.lookup(ask("What time zone is Perth in?"), route())).status == "miss"


async def test_size_cap_evicts_the_least_recently_used() -> None:
    cache = Cache(CacheSettings(max_entries=2, **EXACT_ONLY))
    await remember(cache, "q1", "a1")
    await remember(cache, "q2", "a2")
    assert (await cache.lookup(ask("q1"), route())).status == "hit"  # q1 is now the most recent
    await remember(cache, "q3", "a3")
    assert (await cache.lookup(ask("q2"), route())).status == "miss"
    assert (await cache.lookup(ask("q1"), route())).status == "hit"
    assert cache.stats()["evicted"] == 1


async def test_entries_survive_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "rh.db")
    cache = Cache(CacheSettings(**EXACT_ONLY), store=store)
    cache.open()
    await remember(cache, "Who wrote Dune?", "Frank Herbert.")
    store.close()

    reopened = Store(tmp_path / "rh.db")
    again = Cache(CacheSettings(**EXACT_ONLY), store=reopened)
    again.open()
    hit = await again.lookup(ask("Who wrote Dune?"), route())
    assert hit.status == "hit" and text_of(hit.chunks) == "Frank Herbert."
    assert await again.clear() == 1
    reopened.close()
    third = Store(tmp_path / "rh.db")
    empty = Cache(CacheSettings(**EXACT_ONLY), store=third)
    empty.open()
    assert (await empty.lookup(ask("Who wrote Dune?"), route())).status == "miss"
    third.close()


async def test_bad_feedback_evicts_the_answer_it_served() -> None:
    cache = Cache(CacheSettings(**EXACT_ONLY))
    await remember(cache, "What is the tallest mountain?", "K2.")
    served = ask("What is the tallest mountain?")
    assert (await cache.lookup(served, route())).status == "hit"
    result = await cache.feedback(served.request_id, good=False)
    assert result is not None and result["action"] == "evicted"
    assert (await cache.lookup(ask("What is the tallest mountain?"), route())).status == "miss"
    assert await cache.feedback("rh-unknown", good=True) is None
