"""Phrasing a merged memory with a model, checked before it is used.

A model only rewords: the curator has already decided what happens. The output must keep
every name and number of the memory, add none, and fit the length limit; otherwise the best
existing phrasing stays.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from importlib import resources

from roundhouse.daemon.memory.claims import analyse, compare

log = logging.getLogger(__name__)
# (system prompt, user prompt, model) -> the model's answer
Ask = Callable[[str, str, str], Awaitable[str]]


def prompt_text(name: str) -> str:
    return (resources.files("roundhouse.resources") / "prompts" / name).read_text(encoding="utf-8")


def acceptable(candidate: str, reference: str, max_chars: int) -> bool:
    """The candidate says what the reference says: same names and quantities, no conflict."""
    candidate = candidate.strip()
    if not candidate or len(candidate) > max_chars or "\n" in candidate:
        return False
    old, new = analyse(reference), analyse(candidate)
    if old.entities != new.entities or sorted(old.quantities, key=repr) != sorted(new.quantities, key=repr):
        return False
    comparison = compare(old, new)
    return comparison.same_subject and comparison.conflict is None


def best_existing(texts: list[str], max_chars: int) -> str:
    """The shortest phrasing that fits; the first one when none fits."""
    fitting = [t for t in texts if len(t) <= max_chars]
    return min(fitting, key=len) if fitting else texts[0][:max_chars]


class Synthesizer:
    def __init__(self, ask: Ask | None, *, model: str, max_chars: int, local: bool = True) -> None:
        self._ask = ask
        self.model = model
        self.local = local
        self.max_chars = max_chars
        self.accepted = 0
        self.rejected = 0

    async def merge(self, current: str, incoming: str) -> str:
        """One sentence for both statements, or `current` when the model's attempt fails."""
        if self._ask is None or current.strip() == incoming.strip():
            return current
        system = prompt_text("merge_memory.md")
        user = f"Statement A: {current}\nStatement B: {incoming}\nOne sentence:"
        try:
            answer = await self._ask(system, user, self.model)
        except Exception as exc:  # the model is a nicety; the memory is already decided
            log.info(
                "memory: phrasing with %s failed (%s); keeping the current text",
                self.model,
                type(exc).__name__,
            )
            self.rejected += 1
            return current
        candidate = _first_sentence(answer)
        if acceptable(candidate, current, self.max_chars):
            self.accepted += 1
            return candidate
        self.rejected += 1
        return current


def _first_sentence(answer: str) -> str:
    text = answer.strip().strip('"').strip()
    text = re.sub(r"^(?:one sentence|answer|merged)\s*:\s*", "", text, flags=re.IGNORECASE)
    return text.split("\n")[0].strip()
