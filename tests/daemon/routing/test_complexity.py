"""The complexity vote: rule features alone, and with the k-NN over the shipped examples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.routing.complexity import ComplexityClassifier, KnnIndex, shipped_examples
from roundhouse.daemon.routing.settings import TIERS

EVAL = Path(__file__).resolve().parents[2] / "data" / "routing_eval.jsonl"


def test_shipped_examples_cover_every_tier_and_stay_apart_from_the_evaluation_set() -> None:
    examples = shipped_examples()
    assert len(examples) >= 300
    counts = Counter(e.tier for e in examples)
    assert set(counts) == set(TIERS) and min(counts.values()) >= 50
    assert len({e.topic for e in examples}) >= 15
    evaluation = {json.loads(line)["text"] for line in EVAL.read_text(encoding="utf-8").splitlines() if line}
    assert not evaluation & {e.text for e in examples}


def test_rules_alone_separate_small_talk_from_frontier_work() -> None:
    rules = ComplexityClassifier(None)
    assert rules.classify("thanks!").tier == "fast"
    frontier = (
        "Design a complete multi-region architecture for a global payments platform: consistency model, "
        "partitioning, failure modes, reconciliation, compliance, observability, a migration plan from our "
        "monolith, cost estimates, and a detailed rollout roadmap with risks for each phase and team."
    )
    assert rules.classify(frontier).tier == "cloud"


def test_knn_vote_reaches_useful_accuracy_on_the_evaluation_set(
    embedder: Embedder, shipped_index: KnnIndex
) -> None:
    index = shipped_index
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    tiered = [r for r in rows if r.get("tier")]
    vectors = embedder.encode([r["text"] for r in tiered])
    with_knn = ComplexityClassifier(index)
    rules = ComplexityClassifier(None)
    knn_hits = sum(
        with_knn.classify(r["text"], v).tier == r["tier"] for r, v in zip(tiered, vectors, strict=True)
    )
    rule_hits = sum(rules.classify(r["text"]).tier == r["tier"] for r in tiered)
    assert knn_hits / len(tiered) >= 0.8
    assert knn_hits >= rule_hits, "the vote must not make the rules worse"


def test_learned_examples_move_the_vote(embedder: Embedder, shipped_index: KnnIndex) -> None:
    prompt = "Summarise the quarterly numbers for the Lisbon office in two lines."
    index = KnnIndex(shipped_index._vectors.copy(), [TIERS[i] for i in shipped_index._labels])
    classifier = ComplexityClassifier(index, knn_weight=0.9)
    vector = embedder.encode([prompt])[0]
    before = classifier.classify(prompt, vector)
    assert before.tier != "cloud"
    near = [
        prompt,
        "Summarise the quarterly numbers for the Porto office in two lines.",
        "Summarise the quarterly numbers for the Madrid office in two lines.",
        "Summarise the quarterly figures for the Lisbon office briefly.",
        "Summarise quarterly numbers for the Lisbon team in two lines.",
    ]
    index.add(embedder.encode(near), ["cloud"] * len(near))
    after = classifier.classify(prompt, vector)
    assert after.tier == "cloud" and after.scores["cloud"] > before.scores["cloud"]
