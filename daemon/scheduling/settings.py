"""Settings of the scheduling component (the [scheduling] table of config.toml)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SchedulingSettings(BaseModel):
    # Requests one backend runs at the same time, by backend name ("ollama", "embedded", ...).
    concurrency: dict[str, int] = Field(default_factory=dict)
    # For backends not named above: Ollama and the embedded llama.cpp run one request at a
    # time (Ollama's OLLAMA_NUM_PARALLEL default), remote OpenAI-style and cloud backends more.
    default_local_concurrency: int = Field(default=1, ge=1)
    default_remote_concurrency: int = Field(default=8, ge=1)
    # Embedding requests run in a lane of their own ("<backend>:embeddings"), wide enough
    # for the embedder's micro-batching to gather concurrent callers.
    embed_concurrency: int = Field(default=32, ge=1)
    # Waiting requests per backend before new ones are refused with 503 + Retry-After.
    max_queue_depth: int = Field(default=64, ge=0)
    # Background (agent) work waits while interactive work is queued or running anywhere
    # ("global") or only on the same backend ("backend"), and resumes this long after.
    pause_background: bool = True
    pause_scope: str = Field(default="global", pattern="^(global|backend)$")
    background_resume_delay_s: float = Field(default=0.25, ge=0)
    # Embedding requests arriving within this window are encoded as one batch.
    embed_batch_window_ms: float = Field(default=4.0, ge=0)
    embed_max_batch: int = Field(default=128, ge=1)
