"""Settings of the memory component (the [memory] table of config.toml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CuratorSettings(BaseModel):
    # Cosine similarity above which a statement about the same thing is the same memory.
    duplicate_similarity: float = Field(default=0.78, ge=0.0, le=1.0)
    # Lower bar for a restatement that names the same things with the same figures.
    anchored_similarity: float = Field(default=0.5, ge=0.0, le=1.0)
    # Similarity above which two statements are compared for contradictions at all.
    related_similarity: float = Field(default=0.45, ge=0.0, le=1.0)
    # How many of the most similar memories are compared with each insight.
    candidates: int = Field(default=32, ge=1, le=500)
    # Insights scoring below this (importance, actionability, long-term value) are discarded.
    discard_below: float = Field(default=0.3, ge=0.0, le=1.0)
    # How memories are phrased when merged: a local model, a cloud model when policy and budget
    # allow (never for private content), or no model at all (the best existing phrasing).
    synthesis: Literal["local", "cloud", "off"] = "local"
    synthesis_model: str = "local"
    synthesis_cloud_model: str = "cloud"
    max_memory_chars: int = Field(default=300, ge=40, le=2000)


class ReviewSettings(BaseModel):
    # A new memory waits for approval unless its confidence reaches this (None: always wait).
    auto_approve_confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class DecaySettings(BaseModel):
    # A memory not reconfirmed loses half its strength every `half_life_days`.
    half_life_days: float = Field(default=45.0, gt=0)
    # Approved or pending memories whose strength falls below this expire.
    expire_below: float = Field(default=0.1, ge=0.0, le=1.0)
    check_every_s: float = Field(default=3600.0, ge=1.0)


class OpenWebUISettings(BaseModel):
    # Namespace of Roundhouse's memories inside Open WebUI (its `path` field, since 0.10).
    path: str = "roundhouse"
    sync_on_start: bool = True
    sync_every_s: float = Field(default=900.0, ge=5.0)
    timeout_s: float = Field(default=20.0, gt=0)


class InjectSettings(BaseModel):
    # Apps (as the API names them) whose requests get a few relevant memories as a system note.
    apps: list[str] = Field(default_factory=list)
    top_k: int = Field(default=3, ge=1, le=20)
    max_chars: int = Field(default=600, ge=50, le=4000)
    min_similarity: float = Field(default=0.2, ge=0.0, le=1.0)


class MemorySettings(BaseModel):
    enabled: bool = True
    curator: CuratorSettings = Field(default_factory=CuratorSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    decay: DecaySettings = Field(default_factory=DecaySettings)
    openwebui: OpenWebUISettings = Field(default_factory=OpenWebUISettings)
    inject: InjectSettings = Field(default_factory=InjectSettings)
