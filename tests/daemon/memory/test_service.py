"""The curated memory on real SQLite with the real embedder: decisions with reasons, the review
queue, decay, export / import, and deleting everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.memory.records import Insight
from roundhouse.daemon.memory.service import MemoryInputError, MemoryService
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.memory.synthesis import Synthesizer, acceptable
from roundhouse.daemon.store import Store

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "rh.db")
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def service(store: Store, embedder: Embedder, clock: Clock, **changes: object) -> MemoryService:
    settings = MemorySettings()
    for path, value in changes.items():
        section, name = path.split("__")
        setattr(getattr(settings, section), name, value)
    return MemoryService(store=store, embedder=embedder, settings=settings, clock=clock)


def insight(text: str, **kw: object) -> Insight:
    return Insight(text=text, agent=str(kw.pop("agent", "performance")), **kw)  # type: ignore[arg-type]


async def test_each_decision_is_stored_with_its_reasons_and_provenance(
    store: Store, embedder: Embedder, clock: Clock
) -> None:
    memory = service(store, embedder, clock)
    first, again, changed, other, noise = await memory.submit(
        [
            insight(
                "llama3.1:8b generates about 42 tokens per second on this machine.",
                run_id="run-1",
                request_ids=["rh-a"],
                evidence={"tokens_per_s": 42.1},
            ),
            insight("On this machine, llama3.1:8b produces roughly 42 tok/s.", run_id="run-2"),
            insight("llama3.1:8b generates about 19 tokens per second on this machine.", run_id="run-3"),
            insight("qwen2.5:7b generates about 42 tokens per second on this machine."),
            insight("Something happened once.", importance=0.05, confidence=0.2, tags=["transient"]),
        ]
    )
    assert [d["action"] for d in (first, again, changed, other, noise)] == [
        "ADD",
        "MERGE",
        "SUPERSEDE",
        "ADD",
        "DISCARD",
    ]
    assert again["memory_id"] == first["memory_id"]
    assert "tok" in changed["reasons"][0] and "42" in changed["reasons"][0] and "19" in changed["reasons"][0]

    old = memory.get(first["memory_id"])
    assert old["status"] == "superseded" and old["superseded_by"] == changed["memory_id"]
    assert [h["action"] for h in old["history"]] == ["added", "merged", "superseded"]
    assert {i["run_id"] for i in old["insights"]} == {"run-1", "run-2"}
    assert old["insights"][0]["request_ids"] == ["rh-a"] or old["insights"][1]["request_ids"] == ["rh-a"]

    decisions = memory.book.decisions(noise["insight_id"])
    assert decisions[0]["action"] == "DISCARD" and "value" in decisions[0]["reasons"][0]
    assert set(decisions[0]["scores"]) >= {"importance", "uniqueness", "actionability", "long_term"}
    live = {m["text"] for m in memory.list() if m["status"] in ("pending", "approved")}
    assert live == {
        "llama3.1:8b generates about 19 tokens per second on this machine.",
        "qwen2.5:7b generates about 42 tokens per second on this machine.",
    }


async def test_review_queue_approve_reject_edit_delete(
    store: Store, embedder: Embedder, clock: Clock
) -> None:
    memory = service(store, embedder, clock)
    (a, b) = await memory.submit(
        [
            insight("gemma2:9b takes 7.5 s to load into memory."),
            insight("The user prefers short answers.", kind="user"),
        ]
    )
    assert {m["status"] for m in memory.list()} == {"pending"}
    await memory.approve(a["memory_id"])
    await memory.reject(b["memory_id"])
    assert [m["id"] for m in memory.list("approved")] == [a["memory_id"]]
    # A rejected memory is not proposed again under another wording.
    (again,) = await memory.submit([insight("The user likes short answers.", kind="user")])
    assert again["action"] == "DISCARD" and "rejected" in again["reasons"][-1]
    edited = await memory.edit(a["memory_id"], text="gemma2:9b takes 8 s to load into memory.")
    assert edited["text"] == "gemma2:9b takes 8 s to load into memory."
    assert memory.get(a["memory_id"])["history"][-1]["action"] == "edited"
    with pytest.raises(MemoryInputError):
        await memory.edit(a["memory_id"], text="   ")
    with pytest.raises(MemoryInputError):
        await memory.reject(b["memory_id"])  # already rejected
    await memory.delete(a["memory_id"])
    with pytest.raises(KeyError):
        memory.get(a["memory_id"])


async def test_auto_approval_above_a_confidence(store: Store, embedder: Embedder, clock: Clock) -> None:
    memory = service(store, embedder, clock, review__auto_approve_confidence=0.9)
    sure, unsure = await memory.submit(
        [
            insight("phi4:14b answers 81% of the built-in evaluation questions correctly.", confidence=0.95),
            insight("Zed sends about 300 autocomplete_generation requests per day.", confidence=0.6),
        ]
    )
    assert memory.get(sure["memory_id"])["status"] == "approved"
    assert memory.get(unsure["memory_id"])["status"] == "pending"


async def test_memories_not_reconfirmed_decay_and_expire(
    store: Store, embedder: Embedder, clock: Clock
) -> None:
    memory = service(store, embedder, clock)
    kept, faded = await memory.submit(
        [
            insight("mistral:7b takes 4.2 s to load into memory.", importance=0.5),
            insight("Cloud spend of Obsidian is increasing week over week.", importance=0.5),
        ]
    )
    for decision in (kept, faded):
        await memory.approve(decision["memory_id"])
    clock.now += 100 * DAY
    (reconfirmed,) = await memory.submit([insight("Loading mistral:7b takes about 4.2 seconds.")])
    assert reconfirmed["action"] == "MERGE"
    clock.now += 80 * DAY
    expired = await memory.decay()
    assert expired == [faded["memory_id"]]
    assert memory.get(faded["memory_id"])["status"] == "expired"
    assert memory.get(kept["memory_id"])["status"] == "approved"
    strengths = {m["id"]: m["strength"] for m in memory.list()}
    assert strengths[kept["memory_id"]] > strengths[faded["memory_id"]]


async def test_export_import_round_trip_and_delete_all(
    store: Store, embedder: Embedder, clock: Clock, tmp_path: Path
) -> None:
    memory = service(store, embedder, clock)
    decisions = await memory.submit(
        [
            insight("qwen2.5:14b takes 11.0 s to load into memory."),
            insight("The user writes in British English.", kind="user"),
        ]
    )
    await memory.approve(decisions[0]["memory_id"])
    exported = memory.export()
    assert exported["format"] == "roundhouse-memory" and len(exported["memories"]) == 2
    assert exported["memories"][0]["history"]

    assert await memory.delete_all() == 2
    assert memory.list() == [] and memory.book.insights() == [] and memory.book.decisions() == []

    other = Store(tmp_path / "other.db")
    try:
        fresh = service(other, embedder, clock)
        assert await fresh.import_(exported) == {"added": 2, "skipped": 0}
        assert await fresh.import_(exported) == {"added": 0, "skipped": 2}
        statuses = {m["text"]: m["status"] for m in fresh.list()}
        assert statuses["qwen2.5:14b takes 11.0 s to load into memory."] == "approved"
        # Imported memories take part in curation like any other.
        (restated,) = await fresh.submit([insight("Loading qwen2.5:14b takes about 11.0 seconds.")])
        assert restated["action"] == "MERGE"
        bad_files = [
            {"memories": []},
            {"format": "roundhouse-memory", "memories": [{"text": ""}]},
            {"format": "roundhouse-memory", "memories": [{"text": "x", "status": "maybe"}]},
        ]
        for bad in bad_files:
            with pytest.raises(MemoryInputError):
                await fresh.import_(bad)
    finally:
        other.close()


async def test_a_model_only_rewords_and_a_bad_rewording_is_not_used(
    store: Store, embedder: Embedder, clock: Clock
) -> None:
    answers = iter(
        [
            "llama3.2:3b generates about 55 tokens per second here.",  # keeps every name and number
            "llama3.2:3b generates about 60 tokens per second.",  # changes a number: refused
        ]
    )

    async def model(system: str, user: str, name: str) -> str:
        assert "Statement A" in user
        return next(answers)

    memory = service(store, embedder, clock)
    memory.synthesizer = Synthesizer(model, model="local", max_chars=300)
    (first,) = await memory.submit(
        [insight("llama3.2:3b generates about 55 tokens per second on this machine.")]
    )
    (merged,) = await memory.submit([insight("On this machine, llama3.2:3b produces roughly 55 tok/s.")])
    assert merged["action"] == "MERGE"
    assert memory.get(first["memory_id"])["text"] == "llama3.2:3b generates about 55 tokens per second here."
    await memory.submit([insight("Measured throughput for llama3.2:3b: 55 tokens/s.")])
    assert memory.get(first["memory_id"])["text"] == "llama3.2:3b generates about 55 tokens per second here."
    assert memory.synthesizer.accepted == 1 and memory.synthesizer.rejected == 1


def test_the_rewording_check() -> None:
    reference = "Open WebUI spent $12.40 on gpt-4o-mini last week."
    assert acceptable("Last week Open WebUI spent $12.40 on gpt-4o-mini.", reference, 200)
    assert not acceptable("Open WebUI spent $21.40 on gpt-4o-mini last week.", reference, 200)
    assert not acceptable("Open WebUI spent $12.40 on gpt-4o last week.", reference, 200)
    assert not acceptable("Open WebUI spent $12.40.\nAlso other things.", reference, 200)
    assert not acceptable(reference, reference, 20)
