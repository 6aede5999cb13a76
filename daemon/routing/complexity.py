"""Which tier a prompt needs: rule features plus a k-nearest-neighbour vote over labeled examples."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from roundhouse.daemon.routing import features as rules
from roundhouse.daemon.routing.settings import TIERS

EMBED_CHARS = 1500  # MiniLM reads 256 word pieces; more text only costs time


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    tier: str
    topic: str = ""
    source: str = "shipped"  # "shipped" or "learned"


def shipped_examples() -> list[Example]:
    path = resources.files("roundhouse.resources").joinpath("routing/examples.jsonl")
    examples: list[Example] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            examples.append(Example(row["text"], row["tier"], row.get("topic", "")))
    return examples


class KnnIndex:
    """Normalised embeddings and their tiers; `vote` is a dot product and a top-k."""

    def __init__(self, vectors: np.ndarray, tiers: list[str]) -> None:
        if len(vectors) != len(tiers):
            raise ValueError("one tier per vector")
        self._lock = threading.Lock()
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._labels = np.array([TIERS.index(t) for t in tiers], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, vectors: np.ndarray, tiers: list[str]) -> None:
        with self._lock:
            self._vectors = np.vstack([self._vectors, np.asarray(vectors, dtype=np.float32)])
            self._labels = np.concatenate([self._labels, [TIERS.index(t) for t in tiers]])

    def vote(self, vector: np.ndarray, k: int) -> tuple[dict[str, float], float]:
        """Similarity-weighted tier shares of the k nearest examples, and the best similarity."""
        vectors, labels = self._vectors, self._labels
        if len(labels) == 0:
            return {}, 0.0
        sims = vectors @ np.asarray(vector, dtype=np.float32).reshape(-1)
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        weights = np.maximum(sims[top], 0.0) ** 2
        totals = np.bincount(labels[top], weights=weights, minlength=len(TIERS))
        total = float(totals.sum()) or 1.0
        return {tier: float(totals[i]) / total for i, tier in enumerate(TIERS)}, float(sims[top].max())


@dataclass(slots=True)
class Verdict:
    tier: str
    scores: dict[str, float]
    rule_score: float
    margin: float  # winner's share minus the runner-up's
    knn_used: bool
    nearest_similarity: float = 0.0
    features: dict[str, int] = field(default_factory=dict)

    def reasons(self) -> list[str]:
        how = f"k-NN+rules (nearest {self.nearest_similarity:.2f})" if self.knn_used else "rules"
        return [f"complexity: {self.tier} by {how}, score {self.rule_score:.2f}, margin {self.margin:.2f}"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "scores": {t: round(s, 3) for t, s in self.scores.items()},
            "rule_score": round(self.rule_score, 3),
            "margin": round(self.margin, 3),
            "knn": self.knn_used,
            "nearest_similarity": round(self.nearest_similarity, 3),
        }


class ComplexityClassifier:
    """Pure: give it the prompt and, when available, the prompt's embedding."""

    def __init__(self, index: KnnIndex | None = None, *, k: int = 7, knn_weight: float = 0.7) -> None:
        self.index = index
        self.k = k
        self.knn_weight = knn_weight

    def classify(self, text: str, vector: np.ndarray | None = None) -> Verdict:
        found = rules.extract(text)
        rule_score = rules.score(found)
        scores = rules.tier_distribution(rule_score)
        knn_used = False
        nearest = 0.0
        if vector is not None and self.index is not None and len(self.index):
            shares, nearest = self.index.vote(vector, self.k)
            if shares:
                # A close neighbour is trusted more; a far one leaves the rules in charge.
                weight = self.knn_weight * min(1.0, max(0.0, (nearest - 0.2) / 0.4))
                scores = {t: (1 - weight) * scores[t] + weight * shares[t] for t in TIERS}
                knn_used = True
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        margin = ranked[0][1] - ranked[1][1]
        return Verdict(ranked[0][0], scores, rule_score, margin, knn_used, nearest, found.as_dict())
