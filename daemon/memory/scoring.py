"""How much an insight is worth keeping, before looking at what is already kept."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from roundhouse.daemon.memory.claims import Claim
from roundhouse.daemon.memory.records import Insight

_ACTION_WORDS = re.compile(
    r"\b(use|using|move|moving|switch|route|routing|save|saves|avoid|prefer|prefers|set|enable|disable|load|"
    r"keep|reduce|cut|shorten|replace|pin|evict|cap|limit|schedule)\b",
    re.IGNORECASE,
)
_TRANSIENT_TAGS = frozenset({"transient", "one-off", "debug", "noise"})
_DURABLE_TAGS = frozenset({"user", "preference", "durable", "policy", "privacy"})


@dataclass(slots=True)
class Scores:
    importance: float
    uniqueness: float
    actionability: float
    long_term: float
    value: float
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def actionability(insight: Insight, claim: Claim) -> float:
    if insight.actionability is not None:
        return max(0.0, min(1.0, insight.actionability))
    score = 0.35
    if _ACTION_WORDS.search(insight.text):
        score += 0.35
    if claim.quantities:
        score += 0.15
    if claim.entities:
        score += 0.1
    return min(1.0, score)


def long_term_value(insight: Insight) -> float:
    tags = {t.lower() for t in insight.tags}
    if tags & _TRANSIENT_TAGS:
        return 0.15
    if insight.kind == "user" or tags & _DURABLE_TAGS:
        return 0.9
    return 0.6


def score(insight: Insight, claim: Claim, similarity: float) -> Scores:
    importance = max(0.0, min(1.0, insight.importance))
    act = actionability(insight, claim)
    durable = long_term_value(insight)
    confidence = max(0.0, min(1.0, insight.confidence))
    value = 0.4 * importance + 0.2 * act + 0.2 * durable + 0.2 * confidence
    return Scores(
        importance=importance,
        uniqueness=max(0.0, 1.0 - max(similarity, 0.0)),
        actionability=act,
        long_term=durable,
        value=value,
        similarity=similarity,
    )
