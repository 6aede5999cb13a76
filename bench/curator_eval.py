"""How well the memory curator keeps a clean store: a seeded stream of synthetic insights.

    .venv/bin/python bench/curator_eval.py [--seed 7] [--count 1000]

The stream mixes unique findings (50 %), paraphrased restatements of earlier findings (40 %)
and contradictions of earlier findings (10 %: a changed number, a negation, a reversed trend
or preference, another model chosen). Each insight carries its ground truth: which fact it
states. It runs through the real MemoryService (real SQLite, real embedder, no language model)
and prints duplicate detection precision / recall / F1, contradiction handling accuracy and
the share of duplicates left in the final store, against the goals F1 >= 0.95 and <= 3 %.

The thresholds in daemon/memory/settings.py were tuned on seed 1; the default seed is 7.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.memory.records import Insight
from roundhouse.daemon.memory.service import MemoryService
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.store import Store

MODELS = [
    "llama3.1:8b", "llama3.2:3b", "llama3.2:1b", "qwen2.5:7b", "qwen2.5:14b", "qwen2.5:1.5b",
    "qwen2.5-coder:7b", "qwen2.5-coder:1.5b", "mistral:7b", "mistral-nemo:12b", "gemma2:9b", "gemma2:2b",
    "phi3.5:3.8b", "phi4:14b", "deepseek-r1:8b", "deepseek-r1:14b", "codellama:13b", "smollm2:135m",
    "gpt-4o-mini", "gpt-4o", "claude-3-5-haiku", "gemini-2.0-flash", "llama-3.1-8b-instant", "command-r:35b",
]  # fmt: skip
APPS = ["Open WebUI", "Zed", "Continue", "Neovim", "Obsidian", "Raycast", "LibreChat", "Home Assistant",
        "Alfred", "Logseq", "Emacs", "Jupyter"]  # fmt: skip
TASKS = ["title_generation", "tags_generation", "query_generation", "autocomplete_generation",
         "emoji_generation", "chat_summary", "code_review", "commit_message"]  # fmt: skip


@dataclass
class Family:
    name: str
    kind: str  # "context" or "user"
    slots: tuple[str, ...]
    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()  # same fact, opposite polarity (for negation / antonym flips)
    value: str | None = None  # the slot a contradiction changes: "n" (number) or "model" (a choice)


FAMILIES = [
    Family(
        "tps",
        "context",
        ("model", "n"),
        (
            "{model} generates about {n} tokens per second on this machine.",
            "On this machine, {model} produces roughly {n} tok/s.",
            "Measured throughput for {model}: {n} tokens/s.",
            "{model} runs at around {n} tokens per second locally.",
            "Local generation speed of {model} is {n} tok/s.",
        ),
        value="n",
    ),
    Family(
        "load",
        "context",
        ("model", "secs"),
        (
            "{model} takes {secs} s to load into memory.",
            "Loading {model} takes about {secs} seconds.",
            "A cold start of {model} costs {secs} s.",
            "It takes roughly {secs} seconds before {model} is loaded and ready.",
        ),
        value="secs",
    ),
    Family(
        "ttft",
        "context",
        ("model", "ms"),
        (
            "Time to first token for {model} is about {ms} ms.",
            "{model} starts answering after roughly {ms} ms.",
            "First-token latency of {model}: {ms} milliseconds.",
            "With {model} the first token arrives in {ms} ms.",
        ),
        value="ms",
    ),
    Family(
        "quality",
        "context",
        ("model", "pct"),
        (
            "{model} answers {pct}% of the built-in evaluation questions correctly.",
            "On the built-in evaluation, {model} scores {pct} %.",
            "{model} gets {pct} percent of the evaluation set right.",
            "Evaluation accuracy of {model} is {pct}%.",
        ),
        value="pct",
    ),
    Family(
        "app_cost",
        "context",
        ("app", "usd"),
        (
            "{app} spent ${usd} on cloud models last week.",
            "Last week, cloud spend from {app} came to ${usd}.",
            "{app} cost {usd} USD in cloud usage over the last week.",
            "Cloud models used by {app} cost ${usd} in the past week.",
        ),
        value="usd",
    ),
    Family(
        "cheapest",
        "context",
        ("app", "task", "model"),
        (
            "The cheapest adequate model for {app} {task} requests is {model}.",
            "For {app} {task} requests, {model} is the cheapest model that is good enough.",
            "{model} is the cheapest model that handles {app} {task} requests well.",
            "Route {app} {task} requests to {model}: it is the cheapest adequate choice.",
        ),
        value="model",
    ),
    Family(
        "volume",
        "context",
        ("app", "task", "count"),
        (
            "{app} sends about {count} {task} requests per day.",
            "Every day {app} makes roughly {count} {task} calls.",
            "Daily volume of {task} requests from {app}: {count} requests.",
            "{app} issues around {count} {task} requests each day.",
        ),
        value="count",
    ),
    Family(
        "savings",
        "context",
        ("app", "task", "model", "usd"),
        (
            "Moving {app} {task} requests to {model} would save ${usd} per month.",
            "Sending the {task} requests of {app} to {model} would cut ${usd} a month.",
            "{app} could save {usd} dollars a month by running {task} requests on {model}.",
            "Switching {app} {task} traffic to {model} saves about ${usd} monthly.",
        ),
        value="usd",
    ),
    Family(
        "prompt",
        "context",
        ("app", "task", "tok"),
        (
            "The system prompt of {app} {task} requests can be cut to {tok} tokens without losing quality.",
            "A {tok}-token system prompt is enough for {app} {task} requests.",
            "{app} {task} requests keep their quality with a system prompt shortened to {tok} tokens.",
        ),
        value="tok",
    ),
    Family(
        "fits",
        "context",
        ("model", "model2"),
        (
            "{model} and {model2} can be loaded on the GPU together.",
            "There is enough VRAM to keep {model} and {model2} resident at once.",
            "Keeping {model} resident still leaves room for {model2} on the GPU.",
        ),
        (
            "{model} and {model2} cannot be loaded on the GPU together.",
            "There is not enough VRAM to keep {model} and {model2} resident at once.",
            "Keeping {model} resident leaves no room for {model2} on the GPU.",
        ),
    ),
    Family(
        "privacy",
        "context",
        ("app",),
        (
            "Requests from {app} that contain personal data stay on local models.",
            "Personal data in {app} prompts is always kept on this machine.",
            "When {app} sends personal data, Roundhouse keeps the request local.",
        ),
        (
            "Requests from {app} that contain personal data do not stay on local models.",
            "Personal data in {app} prompts is not kept on this machine.",
            "When {app} sends personal data, Roundhouse does not keep the request local.",
        ),
    ),
    Family(
        "trend",
        "context",
        ("app",),
        (
            "Cloud spend of {app} is increasing week over week.",
            "{app} cloud costs are rising from one week to the next.",
            "Week by week, {app} spends more on cloud models.",
        ),
        (
            "Cloud spend of {app} is decreasing week over week.",
            "{app} cloud costs are falling from one week to the next.",
            "Week by week, {app} spends less on cloud models.",
        ),
    ),
    Family(
        "length",
        "user",
        ("app",),
        (
            "In {app}, the user prefers short answers.",
            "The user likes brief replies when working in {app}.",
            "Answers in {app} should be concise for this user.",
        ),
        (
            "In {app}, the user prefers long answers.",
            "The user likes detailed replies when working in {app}.",
            "Answers in {app} should be verbose for this user.",
        ),
    ),
    Family(
        "cloud_use",
        "user",
        ("app",),
        (
            "The user allows cloud models for work done in {app}.",
            "Cloud models are allowed for the user's {app} work.",
            "For {app}, the user is fine with cloud models.",
        ),
        (
            "The user does not allow cloud models for work done in {app}.",
            "Cloud models are not allowed for the user's {app} work.",
            "For {app}, the user is not fine with cloud models.",
        ),
    ),
]


def sample_value(rng: random.Random, slot: str) -> str:
    if slot in ("model", "model2"):
        return rng.choice(MODELS)
    if slot == "app":
        return rng.choice(APPS)
    if slot == "task":
        return rng.choice(TASKS)
    if slot == "n":
        return str(rng.randint(4, 140))
    if slot == "secs":
        return f"{rng.uniform(0.8, 40):.1f}"
    if slot == "ms":
        return str(rng.randint(60, 3000))
    if slot == "pct":
        return str(rng.randint(15, 97))
    if slot == "usd":
        return f"{rng.uniform(0.5, 90):.2f}"
    if slot == "count":
        return str(rng.randint(5, 2000))
    if slot == "tok":
        return str(rng.randint(40, 900))
    raise ValueError(slot)


def changed(rng: random.Random, slot: str, old: str) -> str:
    """A clearly different value for a contradiction."""
    if slot in ("model", "model2"):
        return rng.choice([m for m in MODELS if m != old])
    number = float(old)
    factor = rng.choice([rng.uniform(0.35, 0.75), rng.uniform(1.35, 2.5)])
    new = number * factor
    if "." in old:
        decimals = len(old.split(".")[1])
        return f"{new:.{decimals}f}"
    return str(max(1, round(new)) if round(new) != number else int(number) + 3)


@dataclass
class Fact:
    id: int
    family: Family
    values: dict[str, str]
    negative: bool = False

    def key(self) -> tuple[str, ...]:
        value = self.family.value
        slots = tuple(self.values[s] for s in self.family.slots if s not in (value, "model", "model2"))
        models = tuple(sorted(self.values[s] for s in ("model", "model2") if s in self.values and s != value))
        return (self.family.name, *slots, *models)

    def render(self, rng: random.Random) -> str:
        templates = self.family.negative if self.negative else self.family.positive
        values = {
            k: written(rng, v) if k not in ("model", "model2", "app", "task") else v
            for k, v in self.values.items()
        }
        return rng.choice(templates).format(**values)


def written(rng: random.Random, number: str) -> str:
    """The same number as people and programs write it differently: 1200 / 1,200, 12.40 / 12.4."""
    if rng.random() > 0.3:
        return number
    if "." in number:
        trimmed = number.rstrip("0").rstrip(".")
        return trimmed if trimmed != number else number + "0"
    return f"{int(number):,}" if int(number) >= 1000 else number


@dataclass
class Labelled:
    insight: Insight
    fact: int
    label: str  # "unique", "duplicate", "contradiction"
    version: int = 0  # how many times the fact had changed when this was said


def stream(seed: int, count: int) -> list[Labelled]:
    rng = random.Random(seed)
    n_dup, n_con = round(count * 0.4), round(count * 0.1)
    n_unique = count - n_dup - n_con
    labels = ["unique"] * n_unique + ["duplicate"] * n_dup + ["contradiction"] * n_con
    # The first few are unique so that there is something to restate.
    head, tail = labels[:20], labels[20:]
    rng.shuffle(tail)
    labels = head + tail
    facts: list[Fact] = []
    versions: Counter[int] = Counter()
    used: set[tuple[str, ...]] = set()
    out: list[Labelled] = []
    t0 = 1_700_000_000.0
    for position, label in enumerate(labels):
        if label == "unique" or not facts:
            while True:
                family = rng.choice(FAMILIES)
                values = {s: sample_value(rng, s) for s in family.slots}
                if values.get("model2") == values.get("model"):
                    continue
                fact = Fact(len(facts), family, values, negative=bool(family.negative) and rng.random() < 0.3)
                if fact.key() not in used:
                    break
            used.add(fact.key())
            facts.append(fact)
            label = "unique"
        elif label == "duplicate":
            fact = rng.choice(facts)
        else:
            fact = rng.choice(facts)
            if fact.family.value is not None:
                slot = fact.family.value
                fact.values[slot] = changed(rng, slot, fact.values[slot])
            else:
                fact.negative = not fact.negative
            versions[fact.id] += 1
        insight = Insight(
            text=fact.render(rng),
            agent="bench",
            kind=fact.family.kind,  # type: ignore[arg-type]
            importance=round(rng.uniform(0.4, 1.0), 2),
            confidence=round(rng.uniform(0.6, 0.95), 2),
            ts=t0 + position * 60,
            evidence={"fact": fact.id},
        )
        out.append(Labelled(insight, fact.id, label, versions[fact.id]))
    return out


def score(items: list[Labelled], decisions: list[dict[str, Any]], live: list[str]) -> dict[str, Any]:
    """Figures for one way of curating. `decisions[i]` has the action, the memory made or
    touched (`memory_id`) and the memory merged into or superseded (`target`)."""
    made: dict[str, Labelled] = {}
    for item, result in zip(items, decisions, strict=True):
        if result["action"] in ("ADD", "SUPERSEDE") and result["memory_id"]:
            made[result["memory_id"]] = item
    merge_tp = merge_fp = con_ok = 0
    actions: Counter[str] = Counter()
    for item, result in zip(items, decisions, strict=True):
        action = result["action"]
        actions[f"{item.label}->{action}"] += 1
        target = made.get(result["target"]) if result["target"] else None
        target_fact = target.fact if target else None
        if action == "MERGE":
            if item.label == "duplicate" and target_fact == item.fact:
                merge_tp += 1
            else:
                merge_fp += 1
        if item.label == "contradiction" and action == "SUPERSEDE" and target_fact == item.fact:
            con_ok += 1
    n_dup = sum(1 for i in items if i.label == "duplicate")
    n_con = sum(1 for i in items if i.label == "contradiction")
    precision = merge_tp / (merge_tp + merge_fp) if merge_tp + merge_fp else 0.0
    recall = merge_tp / n_dup if n_dup else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_fact = Counter(made[m].fact for m in live if m in made)
    extra = sum(n - 1 for n in per_fact.values() if n > 1)
    final_version = {i.fact: i.version for i in items}
    stale = sum(1 for m in live if m in made and made[m].version < final_version[made[m].fact])
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "contradiction_accuracy": con_ok / n_con if n_con else 0.0,
        "live_memories": len(live),
        "duplicate_rate": extra / len(live) if live else 0.0,
        "stale": stale,
        "actions": dict(sorted(actions.items())),
    }


def embedding_only(items: list[Labelled], vectors: np.ndarray, threshold: float) -> list[dict[str, Any]]:
    """The usual baseline: merge into the nearest memory above a similarity, else add."""
    ids: list[str] = []
    rows: list[np.ndarray] = []
    out = []
    for n, vector in enumerate(vectors):
        if rows:
            sims = np.vstack(rows) @ vector
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                out.append({"action": "MERGE", "memory_id": ids[best], "target": ids[best]})
                continue
        ids.append(f"m{n}")
        rows.append(vector)
        out.append({"action": "ADD", "memory_id": ids[-1], "target": None})
    return out, ids  # type: ignore[return-value]


async def run(seed: int, count: int, baseline_threshold: float) -> dict[str, Any]:
    items = stream(seed, count)
    embedder = Embedder()
    embedder.load()
    settings = MemorySettings()
    settings.curator.synthesis = "off"  # decisions never depend on a language model
    settings.review.auto_approve_confidence = 0.0  # the bench measures the curator, not review
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        service = MemoryService(store=store, embedder=embedder, settings=settings)
        started = time.perf_counter()
        # One call: the texts are embedded as one batch, then curated one by one in order.
        decisions = await service.submit([item.insight for item in items])
        elapsed = time.perf_counter() - started
        live = [m.id for m in service.book.live()]
        store.close()
    vectors = embedder.encode([i.insight.text for i in items])
    embedder.close()
    base_decisions, base_live = embedding_only(items, vectors, baseline_threshold)  # type: ignore[misc]
    return {
        "insights": len(items),
        "duplicates": sum(1 for i in items if i.label == "duplicate"),
        "contradictions": sum(1 for i in items if i.label == "contradiction"),
        "facts": len({i.fact for i in items}),
        "seconds": elapsed,
        "curator": score(items, decisions, live),
        "baseline": score(items, base_decisions, base_live),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--baseline-threshold", type=float, default=0.85)
    args = parser.parse_args()
    r = asyncio.run(run(args.seed, args.count, args.baseline_threshold))
    c, b = r["curator"], r["baseline"]
    print(
        f"curator_eval: seed {args.seed}, {r['insights']} insights for {r['facts']} facts "
        f"({r['duplicates']} paraphrased duplicates, {r['contradictions']} contradictions), "
        f"curated in {r['seconds']:.1f} s"
    )

    def row(label: str, curator: str, baseline: str) -> None:
        print(f"  {label:32}{curator:>10}{baseline:>16}")

    print(f"{'':34}{'curator':>10}{'embedding only':>16}")
    row("duplicate precision", f"{c['precision']:.3f}", f"{b['precision']:.3f}")
    row("duplicate recall", f"{c['recall']:.3f}", f"{b['recall']:.3f}")
    row("duplicate F1 (goal >= 0.95)", f"{c['f1']:.3f}", f"{b['f1']:.3f}")
    row(
        "contradictions superseded",
        f"{c['contradiction_accuracy']:.3f}",
        f"{b['contradiction_accuracy']:.3f}",
    )
    row("live memories", f"{c['live_memories']:d}", f"{b['live_memories']:d}")
    row("duplicates left (goal <= 3 %)", f"{c['duplicate_rate']:.1%}", f"{b['duplicate_rate']:.1%}")
    row("stale memories left", f"{c['stale']:d}", f"{b['stale']:d}")
    print(f"  embedding only merges above cosine {args.baseline_threshold:.2f} and never supersedes")
    print("  curator decisions by ground truth: " + ", ".join(f"{k} {v}" for k, v in c["actions"].items()))
    met = c["f1"] >= 0.95 and c["duplicate_rate"] <= 0.03
    print(f"  goals: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
