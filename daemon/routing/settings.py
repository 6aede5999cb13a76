"""Settings of the routing component (the [routing] table of config.toml).

Everything here is also editable at runtime through `/control/v1/routing/policy`; runtime
edits are kept in the database and win over the file until reset.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from roundhouse.daemon.routing.deadlines import DeadlineSettings

Mode = Literal["local", "hybrid", "cloud"]
TIERS: tuple[str, ...] = ("fast", "balanced", "reasoning", "cloud")
LOCAL_TIERS: tuple[str, ...] = ("fast", "balanced", "reasoning")


class AppPolicy(BaseModel):
    """Per-app rules, keyed by the app name the API derives from the client."""

    private: bool = False  # every request of this app stays local
    allow_cloud: bool = True
    default_tier: str | None = None  # skip the complexity vote and use this tier

    @field_validator("default_tier")
    @classmethod
    def _known_tier(cls, value: str | None) -> str | None:
        if value is not None and value not in TIERS:
            raise ValueError(f"unknown tier '{value}', expected one of {', '.join(TIERS)}")
        return value


class PrivacySettings(BaseModel):
    enabled: bool = True
    # "local": private prompts stay on local models. "mask": they may go to the cloud with their
    # private values replaced by placeholders, put back into the answer (routing/masking.py).
    mode: Literal["local", "mask"] = "local"
    secrets: bool = True
    personal_data: bool = True
    keywords: list[str] = Field(default_factory=list)  # whole-word, case-insensitive
    patterns: list[str] = Field(default_factory=list)  # regular expressions

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns


class CascadeSettings(BaseModel):
    enabled: bool = False
    # A prompt is borderline when the vote for the cloud tier is within this margin of winning.
    margin: float = 0.25
    min_answer_chars: int = 2


class RoutingSettings(BaseModel):
    mode: Mode = "hybrid"
    # Tier → model ids, best first. Empty tiers are filled from the catalog by model size.
    tiers: dict[str, list[str]] = Field(default_factory=dict)
    # Local tiers left empty above take the performance analyst's ranking once it has run.
    measured_tiers: bool = True
    # Below this share of correct answers on the built-in evaluation a model serves no measured tier.
    measured_min_quality: float = Field(default=0.3, ge=0, le=1)
    apps: dict[str, AppPolicy] = Field(default_factory=lambda: {"editor": AppPolicy(private=True)})
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    # An explicit cloud model asked for private content: "reroute" to local or "refuse" (403).
    on_private_cloud: Literal["reroute", "refuse"] = "reroute"
    # An explicit cloud model asked while the mode is local: same choice.
    on_cloud_blocked: Literal["reroute", "refuse"] = "reroute"
    knn: bool = True
    knn_k: int = Field(default=7, ge=1, le=50)
    cascade: CascadeSettings = Field(default_factory=CascadeSettings)
    # Non-private local routes may fall back to the cloud when every local target failed.
    cloud_fallback: bool = True
    # Upstream calls a request may make after its first one failed, retries of the same model
    # and fallbacks to the next alike; each also has to fit the request's deadlines.
    retries: int = Field(default=1, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)
    cooldown_s: float = Field(default=30.0, ge=0)
    failures_before_cooldown: int = Field(default=3, ge=1)
    recent_decisions: int = Field(default=500, ge=10)

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, tiers: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(tiers) - set(TIERS))
        if unknown:
            raise ValueError(f"unknown tier(s) {', '.join(unknown)}; expected {', '.join(TIERS)}")
        return tiers
