"""Reliability of a route: retries with backoff, a cooldown for failing deployments, and
the context-window check that keeps a long prompt off a model too small for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from roundhouse.daemon.backends.base import Backend, BackendError
from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo
from roundhouse.daemon.routing.route import Target

CHARS_PER_TOKEN = 3.5
DEFAULT_ANSWER_TOKENS = 256


def estimate_tokens(request: ChatRequest) -> int:
    """Prompt tokens (a cautious chars/3.5) plus the answer the client allows for."""
    text = request.text()
    overhead = 4 * len(request.messages)
    answer = request.max_tokens or DEFAULT_ANSWER_TOKENS
    return int(len(text) / CHARS_PER_TOKEN) + overhead + answer


def fits(model: ModelInfo, tokens: int) -> bool:
    return model.context_length <= 0 or model.context_length >= tokens


@dataclass(slots=True)
class _Health:
    failures: int = 0
    cooling_until: float = 0.0
    last_error: str = ""


class FallbackPolicy:
    """Per-deployment failure counts; the gateway reports every attempt's outcome here."""

    def __init__(
        self,
        *,
        retries: int = 2,
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
        # One wrapper per backend name, made once rather than on every route.
        self._wrapped: dict[str, RetryingBackend] = {}

    @staticmethod
    def key(target: Target) -> str:
        return FallbackPolicy.key_for(target.backend.name, target.model.id)

    @staticmethod
    def key_for(backend: str, model_id: str) -> str:
        return f"{backend}:{model_id}"

    def is_cooling(self, target: Target) -> bool:
        health = self._health.get(self.key(target))
        return health is not None and health.cooling_until > self._clock()

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
        if health.failures >= self.failures_before_cooldown:
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

    def with_retries(self, target: Target) -> Target:
        """The same target, its backend wrapped to retry retryable failures before any output."""
        backend = target.backend
        if self.retries <= 0 or isinstance(backend, RetryingBackend):
            return target
        wrapper = self._wrapped.get(backend.name)
        if wrapper is None or wrapper.inner is not backend:  # new, or replaced by a config change
            wrapper = self._wrapped[backend.name] = RetryingBackend(backend, self)
        return Target(target.model, wrapper)


class RetryingBackend:
    """Delegates everything to the real backend; `chat` retries 429/5xx/timeouts with backoff
    as long as nothing has been streamed yet (a half-sent answer cannot be retried)."""

    def __init__(self, inner: Backend, policy: FallbackPolicy) -> None:
        self._inner = inner
        self._policy = policy
        self.name = inner.name
        self.local = inner.local

    @property
    def inner(self) -> Backend:
        return self._inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        attempt = 0
        while True:
            produced = False
            try:
                async for chunk in self._inner.chat(request, model):
                    produced = True
                    yield chunk
                return
            except BackendError as exc:
                attempt += 1
                if produced or not exc.retryable or attempt > self._policy.retries:
                    raise
                await asyncio.sleep(self._policy.delay(attempt))
