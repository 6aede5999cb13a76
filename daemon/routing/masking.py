"""Reversible masking, the `[routing.privacy] mode = "mask"` policy: before a request leaves for a
cloud model its private spans become typed placeholders (`[EMAIL_1]`, `[SECRET_1]`), and the
answer, streamed or not, gets the values back before the client sees it. A placeholder split
across two chunks is held back until it is whole. The values live in memory for one request;
what is recorded is the kinds that were masked, never a value.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo
from roundhouse.daemon.routing.privacy import Finding, PrivacyDetector
from roundhouse.daemon.routing.route import Route, Target

LABELS = {
    "pii.email": "EMAIL",
    "pii.phone": "PHONE",
    "pii.card_number": "CARD",
    "pii.iban": "IBAN",
    "pii.national_id": "ID",
    "pii.person": "PERSON",
    "pii.birth_date": "DATE",
    "pii.address": "ADDRESS",
    "pii.account": "ACCOUNT",
    "user.keyword": "KEYWORD",
    "user.pattern": "PRIVATE",
}
# Wording such as `diagnosed with`: once the person is masked it is about no one.
NOT_MASKED = frozenset({"pii.health"})
# The detector finds a private key's header, not the whole block: such a prompt stays local.
UNMASKABLE = frozenset({"secret.private_key"})
_PARTIAL = re.compile(r"\[[A-Z]*(?:_\d*)?")
_PLACEHOLDER = re.compile(r"\[[A-Z]+_\d+\]")


def label(kind: str) -> str:
    return "SECRET" if kind.startswith("secret.") else LABELS.get(kind, "PRIVATE")


def can_mask(kinds: Iterable[str]) -> bool:
    """Whether every kind found can be masked, so that the prompt may go to the cloud masked."""
    return not set(kinds) & UNMASKABLE


class Masker:
    """One request's placeholders: the same value gets the same placeholder in every message."""

    def __init__(self, detector: PrivacyDetector) -> None:
        self._detector = detector
        self.values: dict[str, str] = {}  # placeholder -> value
        self._placeholders: dict[str, str] = {}  # value -> placeholder
        self._counts: dict[str, int] = {}
        self.kinds: set[str] = set()

    def mask(self, text: str) -> str:
        if not text:
            return text
        findings = sorted(
            (f for f in self._detector.scan(text) if f.kind not in NOT_MASKED),
            key=lambda f: (f.start, -f.end),
        )
        parts: list[str] = []
        cursor = 0
        for finding in _merged(findings):
            parts.append(text[cursor : finding.start])
            parts.append(self._placeholder(finding.kind, text[finding.start : finding.end]))
            cursor = finding.end
        parts.append(text[cursor:])
        return "".join(parts)

    def _placeholder(self, kind: str, value: str) -> str:
        self.kinds.add(kind)
        known = self._placeholders.get(value)
        if known is not None:
            return known
        name = label(kind)
        self._counts[name] = self._counts.get(name, 0) + 1
        placeholder = f"[{name}_{self._counts[name]}]"
        self._placeholders[value] = placeholder
        self.values[placeholder] = value
        return placeholder

    def mask_request(self, request: ChatRequest) -> ChatRequest:
        messages = [self._mask_message(m) for m in request.messages]
        return dataclasses.replace(
            request,
            messages=messages,
            prompt=self.mask(request.prompt) if request.prompt else request.prompt,
            suffix=self.mask(request.suffix) if request.suffix else request.suffix,
        )

    def _mask_message(self, message: dict[str, Any]) -> dict[str, Any]:
        content = message.get("content")
        if isinstance(content, str):
            return {**message, "content": self.mask(content)}
        if isinstance(content, list):
            parts = [
                {**part, "text": self.mask(part["text"])}
                if isinstance(part, dict) and isinstance(part.get("text"), str)
                else part
                for part in content
            ]
            return {**message, "content": parts}
        return message


def _merged(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings as one span (the first one's kind names it)."""
    merged: list[Finding] = []
    for finding in findings:
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


class Restorer:
    """Puts the values back into a streamed answer; a placeholder cut by a chunk boundary waits
    for the rest. Text that only looks like the start of a placeholder is let go once it cannot
    be one any more."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self._longest = max((len(p) for p in values), default=0)
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        cut = self._pending.rfind("[")
        if cut >= 0 and len(self._pending) - cut < self._longest and _PARTIAL.fullmatch(self._pending[cut:]):
            ready, self._pending = self._pending[:cut], self._pending[cut:]
        else:
            ready, self._pending = self._pending, ""
        return self.restore(ready)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return self.restore(ready)

    def restore(self, text: str) -> str:
        if "[" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(0), m.group(0)), text)


class MaskingBackend:
    """A cloud backend seen through the mask: the request it is given goes out masked and its
    answer comes back restored. Everything else is the backend's own."""

    def __init__(self, inner: Any, masked: ChatRequest, values: dict[str, str]) -> None:
        self._inner = inner
        self._masked = masked
        self._values = values
        self.name = inner.name
        self.local = inner.local

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        # The gateway may have fitted max_tokens etc. to the model since the route was made:
        # its request is the one sent, with the masked text.
        sent = dataclasses.replace(
            request, messages=self._masked.messages, prompt=self._masked.prompt, suffix=self._masked.suffix
        )
        restorer = Restorer(self._values)
        finished = False
        async for chunk in self._inner.chat(sent, model):
            content = restorer.feed(chunk.content) if chunk.content else ""
            if chunk.finish_reason is not None or chunk.usage is not None:
                content += restorer.flush()
                finished = True
            yield dataclasses.replace(
                chunk, content=content, tool_calls=_restored_calls(chunk.tool_calls, restorer)
            )
        if not finished:
            tail = restorer.flush()
            if tail:
                yield ChatChunk(content=tail)


def _restored_calls(calls: list[dict[str, Any]] | None, restorer: Restorer) -> list[dict[str, Any]] | None:
    if not calls:
        return calls
    return [json.loads(restorer.restore(json.dumps(call))) for call in calls]


def guard(route: Route, request: ChatRequest, detector: PrivacyDetector) -> Route:
    """The route with its cloud targets masking `request` (local ones see it as it is). The
    route's reasons name the kinds masked, so the ledger records them."""
    if route.model.local and all(t.model.local for t in route.fallbacks):
        return route
    masker = Masker(detector)
    masked = masker.mask_request(request)
    if not masker.values:
        return route

    def through_mask(target: Target) -> Target:
        if target.model.local:
            return target
        return Target(target.model, MaskingBackend(target.backend, masked, masker.values))

    route.target = through_mask(route.target)
    route.fallbacks = [through_mask(t) for t in route.fallbacks]
    route.reasons.append("masked for the cloud: " + ", ".join(sorted({label(k) for k in masker.kinds})))
    return route


def for_cloud(router: Any, request: ChatRequest, route: Route) -> Route:
    """The gateway's one call: the route as it is, or masking its cloud targets when the policy
    says so (`[routing.privacy] mode = "mask"`)."""
    settings = getattr(router, "settings", None)
    privacy = getattr(settings, "privacy", None)
    if privacy is None or not privacy.enabled or privacy.mode != "mask":
        return route
    return guard(route, request, router.detector)
