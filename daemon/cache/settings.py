"""Settings of the cache component (the [cache] table of config.toml)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SemanticCacheSettings(BaseModel):
    enabled: bool = True
    # Cosine similarity (all-MiniLM-L6-v2) at which a paraphrase may reuse an answer.
    threshold: float = Field(default=0.86, ge=0.0, le=1.0)
    # The best match must beat any other match with a different answer by this much.
    margin: float = Field(default=0.02, ge=0.0, le=1.0)
    # Longer prompts are matched exactly only (the embedder reads about 256 word pieces).
    max_chars: int = Field(default=1000, ge=1)
    candidates: int = Field(default=8, ge=1)
    # Per-entry trust in [0, 1]: it moves the entry's threshold by up to ±trust_span/2.
    trust_initial: float = Field(default=0.5, ge=0.0, le=1.0)
    trust_span: float = Field(default=0.1, ge=0.0, le=1.0)
    trust_good_step: float = Field(default=0.1, ge=0.0, le=1.0)
    trust_bad_step: float = Field(default=0.25, ge=0.0, le=1.0)
    trust_floor: float = Field(default=0.2, ge=0.0, le=1.0)
    # A "bad answer" lowers the trust of entries this similar to the evicted one.
    neighbour_radius: float = Field(default=0.8, ge=0.0, le=1.0)


class CacheSettings(BaseModel):
    enabled: bool = True
    # Only requests that give the same answer twice (temperature 0 or a seed) are cached.
    deterministic_only: bool = True
    ttl_s: float = Field(default=7 * 24 * 3600, gt=0)
    max_entries: int = Field(default=20_000, ge=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    semantic: SemanticCacheSettings = Field(default_factory=SemanticCacheSettings)
