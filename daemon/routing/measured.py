"""Tiers from the performance analyst's figures, for the local tiers the user left open.

A user's own tier list always wins; a tier they did not set takes the analyst's ranking: best
quality on the built-in evaluation for `reasoning`, the fastest model good enough for `fast`,
quality times speed for `balanced`. Models within a small margin of a tier's best are its
leaders: among them residency may prefer one already loaded; the rest keep the measured order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roundhouse.daemon.agents.builtin.measurements import Figures, suggest_tiers
from roundhouse.daemon.routing.settings import LOCAL_TIERS

# Near-equal figures: quality within this many points of the best, speed within this ratio.
QUALITY_MARGIN = 0.05
SPEED_RATIO = 0.9
CRITERIA = {
    "fast": "the fastest model good enough",
    "balanced": "the best quality times speed",
    "reasoning": "the best quality on the built-in evaluation",
}


@dataclass(frozen=True, slots=True)
class MeasuredTiers:
    ranked: dict[str, list[str]] = field(default_factory=dict)  # tier -> model ids, best first
    leaders: dict[str, frozenset[str]] = field(default_factory=dict)
    figures: Figures = field(default_factory=dict)

    @classmethod
    def from_figures(cls, figures: Figures, min_quality: float) -> MeasuredTiers:
        ranked = suggest_tiers(figures, min_quality)
        leaders = {tier: _leaders(tier, ids, figures) for tier, ids in ranked.items() if ids}
        return cls(ranked, leaders, figures)

    def open_tiers(self, configured: dict[str, list[str]]) -> list[str]:
        """The local tiers the user did not set that the figures can fill."""
        return [t for t in LOCAL_TIERS if not configured.get(t) and self.ranked.get(t)]

    def fill(self, configured: dict[str, list[str]]) -> dict[str, list[str]]:
        filled = dict(configured)
        for tier in self.open_tiers(configured):
            filled[tier] = list(self.ranked[tier])
        return filled

    def reason(self, tier: str, model_id: str) -> str:
        row = self.figures.get(model_id, {})
        quality = row.get("quality")
        speed = row.get("tokens_per_s")
        measured = ", ".join(
            part
            for part in (
                f"quality {100 * quality:.0f} %" if quality is not None else "",
                f"{speed:.0f} tok/s" if speed is not None else "",
            )
            if part
        )
        return (
            f"tier from measured performance: {tier} takes {CRITERIA[tier]}; {model_id} measured {measured}"
        )


def _score(tier: str, row: dict[str, Any]) -> float:
    quality = float(row.get("quality") or 0)
    speed = float(row.get("tokens_per_s") or 0)
    return {"fast": speed, "balanced": quality * speed, "reasoning": quality}[tier]


def _leaders(tier: str, ids: list[str], figures: Figures) -> frozenset[str]:
    best = _score(tier, figures[ids[0]])
    if tier == "reasoning":
        return frozenset(m for m in ids if _score(tier, figures[m]) >= best - QUALITY_MARGIN)
    return frozenset(m for m in ids if _score(tier, figures[m]) >= best * SPEED_RATIO)
