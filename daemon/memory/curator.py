"""The curator's decision for one insight: ADD, MERGE, SUPERSEDE or DISCARD, with reasons.

Decisions come from embedding similarity plus the claim rules in `claims.py`, never from a
language model: the same inputs always give the same decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from roundhouse.daemon.memory.claims import Claim, analyse, compare, same_quantities
from roundhouse.daemon.memory.records import Action, Insight, Memory
from roundhouse.daemon.memory.scoring import Scores, score
from roundhouse.daemon.memory.settings import CuratorSettings


@dataclass(slots=True)
class Verdict:
    action: Action
    scores: Scores
    reasons: list[str] = field(default_factory=list)
    target: Memory | None = None  # the memory merged into or superseded
    conflict: str | None = None


class LiveIndex:
    """The live memories' vectors as one matrix, for one matrix product per insight."""

    def __init__(self) -> None:
        self._memories: dict[str, Memory] = {}
        self._claims: dict[str, Claim] = {}
        self._ids: list[str] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._dirty = False

    def __len__(self) -> int:
        return len(self._memories)

    def put(self, memory: Memory) -> None:
        if memory.vector is None:
            return
        self._memories[memory.id] = memory
        self._claims[memory.id] = analyse(memory.text)
        self._dirty = True

    def drop(self, memory_id: str) -> None:
        if self._memories.pop(memory_id, None) is not None:
            self._claims.pop(memory_id, None)
            self._dirty = True

    def clear(self) -> None:
        self._memories.clear()
        self._claims.clear()
        self._dirty = True

    def get(self, memory_id: str) -> Memory | None:
        return self._memories.get(memory_id)

    def claim(self, memory_id: str) -> Claim:
        return self._claims[memory_id]

    def nearest(self, vector: np.ndarray, minimum: float, limit: int = 8) -> list[tuple[Memory, float]]:
        if not self._memories:
            return []
        if self._dirty:
            self._ids = list(self._memories)
            self._matrix = np.vstack([self._memories[i].vector for i in self._ids]).astype(np.float32)
            self._dirty = False
        sims = self._matrix @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(-sims)[:limit]
        return [(self._memories[self._ids[i]], float(sims[i])) for i in order if sims[i] >= minimum]


class Curator:
    def __init__(self, settings: CuratorSettings) -> None:
        self.settings = settings

    def decide(self, insight: Insight, vector: np.ndarray, index: LiveIndex) -> Verdict:
        claim = analyse(insight.text)
        candidates = index.nearest(vector, self.settings.related_similarity, limit=self.settings.candidates)
        best = candidates[0][1] if candidates else 0.0
        scores = score(insight, claim, best)
        passed_over: list[str] = []
        for memory, similarity in candidates:
            if memory.kind != insight.kind:
                continue
            comparison = compare(index.claim(memory.id), claim, one_subject=insight.kind == "user")
            if not comparison.same_subject:
                passed_over.append(f"{memory.id} (similarity {similarity:.2f}) is {comparison.reason}")
                continue
            if comparison.conflict is not None:
                return Verdict(
                    "SUPERSEDE",
                    scores,
                    [
                        f"contradicts {memory.id} (similarity {similarity:.2f}): {comparison.reason}",
                        "newer evidence wins; the old memory stays in history",
                    ],
                    target=memory,
                    conflict=comparison.conflict,
                )
            # Same names and the same figures (or two or more names in common) make a restatement
            # likely even when the wording differs a lot.
            old_claim = index.claim(memory.id)
            anchored = (
                similarity >= self.settings.anchored_similarity
                and bool(claim.entities)
                and (same_quantities(old_claim, claim) or (len(claim.entities) >= 2 and not claim.quantities))
            )
            if similarity >= self.settings.duplicate_similarity or anchored:
                return Verdict(
                    "MERGE",
                    scores,
                    [
                        f"restates {memory.id} (similarity {similarity:.2f}"
                        + (", same names and figures" if anchored else "")
                        + "); counted as a reconfirmation"
                    ],
                    target=memory,
                )
            passed_over.append(
                f"{memory.id} (similarity {similarity:.2f}) is related but says something else"
            )
        if scores.value < self.settings.discard_below:
            return Verdict(
                "DISCARD",
                scores,
                [f"value {scores.value:.2f} is below {self.settings.discard_below:.2f}", *passed_over[:3]],
            )
        reasons = [f"new: closest memory similarity {best:.2f}", f"value {scores.value:.2f}"]
        return Verdict("ADD", scores, reasons + passed_over[:3])
