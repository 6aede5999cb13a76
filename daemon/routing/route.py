"""What a routing decision is, and the protocol every router implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from roundhouse.daemon.backends.base import Backend
from roundhouse.daemon.models import ChatRequest, ModelInfo


@dataclass(slots=True)
class Target:
    model: ModelInfo
    backend: Backend


@dataclass(slots=True)
class Route:
    """Where a request runs, and why. `fallbacks` are tried in order when the primary fails
    with a retryable error; a private route never lists a cloud fallback."""

    target: Target
    tier: str | None = None
    reasons: list[str] = field(default_factory=list)
    fallbacks: list[Target] = field(default_factory=list)
    private: bool = False
    cascade: bool = False

    @property
    def model(self) -> ModelInfo:
        return self.target.model

    @property
    def backend(self) -> Backend:
        return self.target.backend

    def explain(self) -> dict[str, object]:
        return {
            "model": self.model.id,
            "backend": self.backend.name,
            "tier": self.tier,
            "private": self.private,
            "reasons": list(self.reasons),
            "fallbacks": [t.model.id for t in self.fallbacks],
        }


class RoutingError(Exception):
    """The request cannot be routed (unknown model, policy refusal). `status` is the HTTP
    status the API answers with; `kind` the machine-readable error code."""

    def __init__(
        self, message: str, *, status: int = 400, kind: str = "routing_error", param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.param = param


class Router(Protocol):
    async def decide(self, request: ChatRequest) -> Route: ...
