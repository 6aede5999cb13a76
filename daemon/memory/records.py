"""Insights (what an agent found) and memories (what Roundhouse keeps), as rows and objects."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

MemoryKind = Literal["context", "user"]
MemoryStatus = Literal["pending", "approved", "rejected", "superseded", "expired"]
Action = Literal["ADD", "MERGE", "SUPERSEDE", "DISCARD"]
# Memories that count as what Roundhouse currently believes.
LIVE: tuple[str, ...] = ("pending", "approved")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass(slots=True)
class Insight:
    """A finding, with its provenance. `kind="user"` marks a durable fact about the user."""

    text: str
    agent: str
    run_id: str | None = None
    kind: MemoryKind = "context"
    evidence: dict[str, Any] = field(default_factory=dict)
    request_ids: list[str] = field(default_factory=list)
    importance: float = 0.5
    confidence: float = 0.7
    actionability: float | None = None
    tags: list[str] = field(default_factory=list)
    private: bool = False
    id: str = field(default_factory=lambda: new_id("ins"))
    ts: float = field(default_factory=time.time)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "agent": self.agent,
            "run_id": self.run_id,
            "kind": self.kind,
            "text": self.text,
            "evidence": json.dumps(self.evidence, default=str),
            "request_ids": json.dumps(self.request_ids),
            "importance": self.importance,
            "confidence": self.confidence,
            "actionability": self.actionability,
            "tags": json.dumps(self.tags),
            "private": int(self.private),
            "decision": None,
            "memory_id": None,
        }


def insight_from_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("evidence", "request_ids", "tags"):
        out[key] = json.loads(out[key]) if out.get(key) else ([] if key != "evidence" else {})
    out["private"] = bool(out.get("private"))
    return out


@dataclass(slots=True)
class Memory:
    id: str
    text: str
    kind: MemoryKind
    status: MemoryStatus
    created: float
    updated: float
    last_confirmed: float
    confirmations: int
    importance: float
    confidence: float
    tags: list[str]
    private: bool
    audience: str | None
    vector: np.ndarray | None
    insight_ids: list[str]
    supersedes: str | None = None
    superseded_by: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "status": self.status,
            "created": self.created,
            "updated": self.updated,
            "last_confirmed": self.last_confirmed,
            "confirmations": self.confirmations,
            "importance": self.importance,
            "confidence": self.confidence,
            "tags": json.dumps(self.tags),
            "private": int(self.private),
            "audience": self.audience,
            "vector": None if self.vector is None else np.asarray(self.vector, dtype=np.float32).tobytes(),
            "supersedes": self.supersedes,
            "superseded_by": self.superseded_by,
            "insight_ids": json.dumps(self.insight_ids),
        }

    def public(self) -> dict[str, Any]:
        """What the control API shows (no vector)."""
        data = self.row()
        data.pop("vector")
        data["tags"] = list(self.tags)
        data["insight_ids"] = list(self.insight_ids)
        data["private"] = self.private
        return data


def memory_from_row(row: dict[str, Any]) -> Memory:
    blob = row.get("vector")
    return Memory(
        id=row["id"],
        text=row["text"],
        kind=row["kind"],
        status=row["status"],
        created=row["created"],
        updated=row["updated"],
        last_confirmed=row["last_confirmed"],
        confirmations=int(row["confirmations"]),
        importance=float(row["importance"]),
        confidence=float(row["confidence"]),
        tags=json.loads(row["tags"]) if row.get("tags") else [],
        private=bool(row["private"]),
        audience=row.get("audience"),
        vector=np.frombuffer(blob, dtype=np.float32).copy() if blob else None,
        insight_ids=json.loads(row["insight_ids"]) if row.get("insight_ids") else [],
        supersedes=row.get("supersedes"),
        superseded_by=row.get("superseded_by"),
    )
