"""Near misses nobody tuned for, through the real cache and the real all-MiniLM-L6-v2: a question
that differs by one opposite or different modifier, swapped arguments or a Roman numeral is not
served the cached answer, while a plain paraphrase of the cached question is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.cache.guards import extract
from roundhouse.daemon.cache.service import Cache
from roundhouse.daemon.cache.settings import CacheSettings
from roundhouse.daemon.store import Store
from tests.daemon.cache.helpers import answer, ask, route, text_of

# (cached question, near miss, paraphrase of the cached question)
CASES = {
    "opposite modifier (soft/hard)": (
        "How do I make a soft boiled egg?",
        "How do I make a hard boiled egg?",
        "How can I make a soft boiled egg?",
    ),
    "different modifier (locally/remotely)": (
        "How do I delete a git branch locally?",
        "How do I delete a git branch remotely?",
        "How can I delete a local git branch?",
    ),
    "opposite modifier (junior/senior)": (
        "What does a junior software engineer earn?",
        "What does a senior software engineer earn?",
        "How much does a junior software engineer earn?",
    ),
    "different modifier (time/space)": (
        "What is the time complexity of merge sort?",
        "What is the space complexity of merge sort?",
        "What's the time complexity of merge sort?",
    ),
    "swapped arguments (A to B / B to A)": (
        "How do I convert a string to an integer in Java?",
        "How do I convert an integer to a string in Java?",
        "How can I convert a string into an integer in Java?",
    ),
    "Roman numeral": (
        "What were the main causes of World War II?",
        "What were the main causes of World War I?",
        "What were the primary causes of World War II?",
    ),
}


async def remember(cache: Cache, text: str, reply: str) -> None:
    request = ask(text)
    lookup = await cache.lookup(request, route())
    assert lookup.status == "miss"
    await cache.store(request, route(), lookup, answer(reply))


@pytest.mark.parametrize("case", list(CASES))
async def test_a_near_miss_is_not_served_and_a_paraphrase_is(embedder: Embedder, case: str) -> None:
    cached, near_miss, paraphrase = CASES[case]
    cache = Cache(CacheSettings(), embedder=embedder)
    await remember(cache, cached, "the cached answer")

    # The embedding alone would serve it: the two questions are this close.
    vectors = embedder.encode([cached, near_miss])
    assert float(vectors[0] @ vectors[1]) >= CacheSettings().semantic.threshold

    missed = await cache.lookup(ask(near_miss), route())
    assert missed.status == "miss", f"{near_miss!r} was served the answer to {cached!r}"
    assert cache.stats()["near_misses_refused"] == 1

    hit = await cache.lookup(ask(paraphrase), route())
    assert hit.status == "hit" and hit.kind == "semantic"
    assert text_of(hit.chunks) == "the cached answer"


async def test_numbers_agree_across_scripts_and_numerals(embedder: Embedder) -> None:
    """'5', 'five', '٥', '५' and 'V' after a name are one number; '6' in any script is another."""
    five = {
        extract(f"What happens in Chapter {n} of the book?").numbers for n in ("5", "five", "٥", "५", "V")
    }
    assert five == {("5",)}
    cache = Cache(CacheSettings(), embedder=embedder)
    await remember(cache, "What happens in chapter 5 of the book?", "chapter five")
    for other in ("chapter ٦", "chapter ६", "Chapter VI", "chapter six"):
        assert (await cache.lookup(ask(f"What happens in {other} of the book?"), route())).status == "miss"
    paraphrase = await cache.lookup(ask("What happens in chapter 5 of this book?"), route())
    assert paraphrase.status == "hit" and text_of(paraphrase.chunks) == "chapter five"


async def test_entries_an_older_build_stored_answer_exact_requests_only(
    embedder: Embedder, tmp_path: Path
) -> None:
    """Features written by the previous guards cannot be compared with today's: such an entry
    still answers the identical request after a restart, but no longer a look-alike one."""
    store = Store(tmp_path / "rh.db")
    cache = Cache(CacheSettings(), store=store, embedder=embedder)
    cache.open()
    await remember(cache, "How do I delete a git branch locally?", "git branch -d NAME")
    old = {"n": [], "g": 0, "e": [], "u": [], "o": [], "w": [], "l": 8}  # the previous build's shape
    await store.write(lambda db: db.execute("UPDATE cache_entries SET features = ?", [json.dumps(old)]))
    store.close()

    reopened = Store(tmp_path / "rh.db")
    again = Cache(CacheSettings(), store=reopened, embedder=embedder)
    again.open()
    assert (await again.lookup(ask("How do I delete a git branch remotely?"), route())).status == "miss"
    exact = await again.lookup(ask("How do I delete a git branch locally?"), route())
    assert exact.status == "hit" and exact.kind == "exact"
    reopened.close()
