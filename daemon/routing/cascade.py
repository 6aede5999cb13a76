"""The cheap check of a local answer that decides whether a borderline prompt escalates."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

from roundhouse.daemon.models import ChatChunk, ChatResult

_REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|sorry|i apologi[sz]e|unfortunately)?[,.]?\s*(?:but\s+)?"
    r"(?:i\s+(?:can(?:not|'t)|am\s+(?:not\s+able|unable)|'m\s+(?:not\s+able|unable)|don'?t\s+know|"
    r"do\s+not\s+know|won'?t\s+be\s+able)|as\s+an\s+ai\b)",
    re.IGNORECASE,
)
_UNSURE = re.compile(
    r"\b(?:i'?m not (?:sure|certain)|i am not (?:sure|certain)|i don'?t have enough information|"
    r"i cannot be certain|this might be wrong|i may be mistaken|i'?m unsure)\b",
    re.IGNORECASE,
)


def needs_escalation(
    result: ChatResult, finish_reason: str | None = None, *, min_chars: int = 2
) -> str | None:
    """Why the local answer should be redone in the cloud, or None when it looks usable:
    empty, a refusal, cut off by the length limit, or the model saying it is unsure."""
    reason = finish_reason or result.finish_reason
    text = result.content.strip()
    if result.tool_calls:
        return None
    if len(text) < min_chars:
        return "empty answer"
    if reason == "length":
        return "answer truncated at the length limit"
    head = text[:200]
    if _REFUSAL.match(head):
        return "the local model refused or did not know"
    if _UNSURE.search(text[:600]):
        return "the local model said it is unsure"
    if _looks_degenerate(text):
        return "the local answer repeats itself"
    return None


def _looks_degenerate(text: str) -> bool:
    """A small model stuck in a loop repeats the same line over and over."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) >= 6 and len(set(lines)) <= len(lines) // 3:
        return True
    words = text.split()
    return len(words) >= 40 and len(set(words)) < len(words) * 0.15


async def cascade(
    local: AsyncIterator[ChatChunk],
    escalate: Callable[[], AsyncIterator[ChatChunk]],
    on_outcome: Callable[[str], None],
    *,
    min_chars: int = 2,
) -> AsyncIterator[ChatChunk]:
    """Answer locally first: buffer the local answer, check it, and either replay it or stream
    the escalated answer instead. `on_outcome` gets "kept" or "escalated: <reason>" for the
    ledger's `cascade` column. The client sees one answer either way."""
    buffered = [chunk async for chunk in local]
    reason = needs_escalation(ChatResult.from_chunks(buffered), min_chars=min_chars)
    if reason is None:
        on_outcome("kept")
        for chunk in buffered:
            yield chunk
        return
    on_outcome(f"escalated: {reason}")
    async for chunk in escalate():
        yield chunk
