"""Reliability of a route: how many upstream calls a request may make, the backoff between
them, a cooldown for failing deployments, and the context-window check that keeps a long
prompt off a model too small for it. The gateway runs the one attempt loop (gateway.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.models import ChatRequest, ModelInfo
from roundhouse.daemon.routing.deadlines import TIMEOUT_KINDS
from roundhouse.daemon.routing.route import Target

CHARS_PER_TOKEN = 3.5
DEFAULT_ANSWER_TOKENS = 256
# What a model that does not say its context is trusted to hold: the smallest context a chat
# model served today has (Ollama's default, llama.cpp's own default).
UNKNOWN_CONTEXT_ASSUMED = 4096


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """A request's prompt tokens: a cautious chars/3.5, and a few per message."""
    return int(len(request.text()) / CHARS_PER_TOKEN) + 4 * len(request.messages)


def estimate_tokens(request: ChatRequest) -> int:
    """Prompt tokens plus the answer the client allows for."""
    return estimate_prompt_tokens(request) + (request.max_tokens or DEFAULT_ANSWER_TOKENS)


def fits(model: ModelInfo, tokens: int) -> bool:
    """Whether `tokens` fit the model's context; an unknown context (0) is taken to fit only a
    prompt of ordinary size, never any length at all."""
    window = model.context_length if model.context_length > 0 else UNKNOWN_CONTEXT_ASSUMED
    return window >= tokens


@dataclass(slots=True)
class _Health:
    failures: int = 0
    cooling_until: float = 0.0
    last_error: str = ""
    hung: bool = False


class FallbackPolicy:
    """Per-deployment failure counts; the gateway reports every attempt's outcome here.
    `retries`: the upstream calls one request may make after its first failed, counting retries
    of the same model and fallbacks to the next alike."""

    def __init__(
        self,
        *,
        retries: int = 1,
        backoff_s: float = 0.5,
        cooldown_s: float = 30.0,
        failures_before_cooldown: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.cooldown_s = cooldown_s
        self.failures_before_cooldown = failures_before_cooldown
        self._clock = clock
        self._health: dict[str, _Health] = {}

    @staticmethod
    def key(target: Target) -> str:
        return FallbackPolicy.key_for(target.backend.name, target.model.id)

    @staticmethod
    def key_for(backend: str, model_id: str) -> str:
        return f"{backend}:{model_id}"

    def is_cooling(self, target: Target) -> bool:
        health = self._health.get(self.key(target))
        return health is not None and health.cooling_until > self._clock()

    def hung(self, target: Target) -> float:
        """Seconds the target still cools after it missed a deadline (0 when it did not): a
        request for it alone is answered at once rather than made to wait on it again."""
        health = self._health.get(self.key(target))
        if health is None or not health.hung:
            return 0.0
        return max(0.0, health.cooling_until - self._clock())

    def cooling_keys(self) -> set[str]:
        """The `key`s of the deployments cooling down now (usually none)."""
        if not self._health:
            return set()
        now = self._clock()
        return {key for key, health in self._health.items() if health.cooling_until > now}

    def report_failure(self, target: Target, error: BackendError) -> None:
        if not error.retryable:
            return  # the request was wrong for this model; the deployment is fine
        health = self._health.setdefault(self.key(target), _Health())
        health.failures += 1
        health.last_error = f"{error.status} {error.kind}"
        # A silent host cools on its first miss: every request it gets would wait as long again.
        health.hung = error.kind in TIMEOUT_KINDS
        if health.hung or health.failures >= self.failures_before_cooldown:
            health.cooling_until = self._clock() + self.cooldown_s
            health.failures = 0

    def report_success(self, target: Target) -> None:
        self._health.pop(self.key(target), None)

    def delay(self, attempt: int) -> float:
        """Backoff before retry `attempt` (1-based): 0.5 s, 1 s, 2 s... capped at 8 s."""
        return min(self.backoff_s * (2 ** (attempt - 1)), 8.0)

    def status(self) -> dict[str, Any]:
        now = self._clock()
        return {
            key: {
                "cooling_s": round(max(0.0, h.cooling_until - now), 1),
                "recent_failures": h.failures,
                "last_error": h.last_error,
            }
            for key, h in self._health.items()
        }
