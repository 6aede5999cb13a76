"""The cascade's cheap answer check and the cooldown of failing deployments."""

from __future__ import annotations

from collections.abc import AsyncIterator

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.models import ChatChunk, ChatRequest, ChatResult, ModelInfo
from roundhouse.daemon.routing.cascade import cascade, needs_escalation
from roundhouse.daemon.routing.fallback import FallbackPolicy, estimate_tokens, fits
from roundhouse.daemon.routing.route import Target


def test_usable_answers_do_not_escalate() -> None:
    assert needs_escalation(ChatResult(content="Paris is the capital of France.")) is None
    assert needs_escalation(ChatResult(content="", tool_calls=[{"id": "1"}])) is None


def test_empty_refused_truncated_unsure_and_looping_answers_escalate() -> None:
    assert needs_escalation(ChatResult(content="  ")) == "empty answer"
    assert "truncated" in (
        needs_escalation(ChatResult(content="The proof goes", finish_reason="length")) or ""
    )
    assert "refused" in (needs_escalation(ChatResult(content="I'm sorry, but I can't help with that.")) or "")
    assert "unsure" in (
        needs_escalation(ChatResult(content="The answer is 42, but I'm not sure about it.")) or ""
    )
    assert "repeats" in (needs_escalation(ChatResult(content="\n".join(["the same line"] * 12))) or "")


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
        self.local = True


def test_cooldown_after_repeated_retryable_failures() -> None:
    now = [1000.0]
    policy = FallbackPolicy(cooldown_s=30, failures_before_cooldown=2, clock=lambda: now[0])
    target = Target(ModelInfo("ollama/llama3.1:8b", "ollama", "llama3.1:8b", True), _Named("ollama"))  # type: ignore[arg-type]
    policy.report_failure(target, BackendError("bad request", status=400))
    policy.report_failure(target, BackendError("bad request", status=400))
    assert not policy.is_cooling(target), "a client error says nothing about the deployment"
    policy.report_failure(target, BackendError("overloaded", status=503, retryable=True))
    assert not policy.is_cooling(target)
    policy.report_failure(target, BackendError("overloaded", status=503, retryable=True))
    assert policy.is_cooling(target)
    now[0] += 31
    assert not policy.is_cooling(target)
    policy.report_failure(target, BackendError("overloaded", status=503, retryable=True))
    policy.report_success(target)
    policy.report_failure(target, BackendError("overloaded", status=503, retryable=True))
    assert not policy.is_cooling(target), "a success resets the count"


def test_backoff_grows_and_is_capped() -> None:
    policy = FallbackPolicy(backoff_s=0.5)
    assert [policy.delay(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 8.0]


def test_token_estimate_and_fit() -> None:
    request = ChatRequest(model="auto", messages=[{"role": "user", "content": "x" * 7000}], max_tokens=100)
    tokens = estimate_tokens(request)
    assert 2000 < tokens < 2200
    assert not fits(ModelInfo("a", "b", "a", True, context_length=2048), tokens)
    assert fits(ModelInfo("a", "b", "a", True, context_length=0), tokens)


async def _stream(*texts: str, finish: str = "stop") -> AsyncIterator[ChatChunk]:
    for text in texts:
        yield ChatChunk(content=text)
    yield ChatChunk(finish_reason=finish)


async def test_cascade_keeps_a_good_local_answer_and_escalates_a_bad_one() -> None:
    outcomes: list[str] = []
    kept = [
        c.content
        async for c in cascade(
            _stream("Paris", " is the capital."), lambda: _stream("cloud"), outcomes.append
        )
    ]
    assert "".join(kept) == "Paris is the capital." and outcomes == ["kept"]
    redone = [
        c.content
        async for c in cascade(_stream("I can't help with that."), lambda: _stream("cloud"), outcomes.append)
    ]
    assert "".join(redone) == "cloud" and outcomes[-1].startswith("escalated: ")
