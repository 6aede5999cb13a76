"""What makes two requests the same: the exact key, the semantic scope, cacheability."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from roundhouse.daemon.models import ChatRequest, content_text
from roundhouse.daemon.routing.route import Route

KEY_VERSION = 1

# Ollama runner options that change where or how fast a model runs, not what it answers.
_PLACEMENT_OPTIONS = frozenset(
    {"num_gpu", "main_gpu", "num_thread", "use_mmap", "use_mlock", "low_vram", "numa", "num_batch"}
)


@dataclass(frozen=True, slots=True)
class Directives:
    """What the client's Cache-Control allows: `lookup` an answer, `store` the new one."""

    lookup: bool = True
    store: bool = True


def directives(cache_control: str | None) -> Directives:
    if not cache_control:
        return Directives()
    parts = {part.strip().lower().replace(" ", "") for part in cache_control.split(",")}
    if "no-store" in parts:
        return Directives(lookup=False, store=False)
    if "no-cache" in parts or "max-age=0" in parts:
        return Directives(lookup=False, store=True)
    return Directives()


def is_deterministic(request: ChatRequest) -> bool:
    """Temperature 0, greedy top_k, or a fixed seed: the same request gives the same answer."""
    temperature = (
        request.temperature if request.temperature is not None else request.options.get("temperature")
    )
    seed = request.seed if request.seed is not None else request.options.get("seed")
    if seed is not None:
        return True
    if temperature is not None and float(temperature) == 0.0:
        return True
    return request.options.get("top_k") == 1


def _text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        content = content_text(content)
    normalized: dict[str, Any] = {
        "role": message.get("role"),
        "content": _text(content) if isinstance(content, str) else content,
    }
    for field in ("name", "tool_calls", "tool_call_id", "images"):
        if message.get(field):
            normalized[field] = message[field]
    return normalized


def _sampling(request: ChatRequest) -> dict[str, Any]:
    options = {k: v for k, v in sorted(request.options.items()) if k not in _PLACEMENT_OPTIONS}
    # Dialects send 0 or 0.0 alike: compare numbers as numbers.
    return {
        "temperature": _number(request.temperature, float),
        "top_p": _number(request.top_p, float),
        "max_tokens": _number(request.max_tokens, int),
        "stop": request.stop or None,
        "seed": _number(request.seed, int),
        "response_format": request.response_format,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "options": options,
    }


def _number(value: Any, kind: type[float] | type[int]) -> Any:
    try:
        return None if value is None else kind(value)
    except (TypeError, ValueError):
        return value


def _digest(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def exact_key(request: ChatRequest, route: Route) -> str:
    """SHA-256 over the normalized request: route model, messages, sampling, tools."""
    return _digest(
        {
            "v": KEY_VERSION,
            "model": route.model.id,
            "kind": request.kind,
            "messages": [_message(m) for m in request.messages],
            "prompt": _text(request.prompt) if request.prompt is not None else None,
            "suffix": request.suffix,
            "sampling": _sampling(request),
        }
    )


@dataclass(frozen=True, slots=True)
class SemanticQuery:
    scope: str  # hash of everything but the last user turn
    text: str  # the last user turn, the part that is embedded


def semantic_query(request: ChatRequest, route: Route, max_chars: int) -> SemanticQuery | None:
    """The scope and text a semantic match is looked up by, or None when it must be exact.

    An entry only matches within the same conversation prefix, system prompt, tools,
    sampling and route model/tier, so a follow-up never gets another chat's answer.
    """
    if request.kind != "chat" or not request.messages:
        return None
    last = request.messages[-1]
    # After the last user turn there must be nothing (no tool results, no prefilled answer).
    if last.get("role") != "user" or not isinstance(last.get("content"), str | list) or last.get("images"):
        return None
    content = last.get("content")
    if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") != "text" for p in content):
        return None
    text = _text(content_text(content))
    # The embedder reads about 256 word pieces: beyond that two prompts could differ unseen.
    if not text or len(text) > max_chars:
        return None
    scope = _digest(
        {
            "v": KEY_VERSION,
            "model": route.model.id,
            "tier": route.tier,
            "prefix": [_message(m) for m in request.messages[:-1]],
            "sampling": _sampling(request),
        }
    )
    return SemanticQuery(scope=scope, text=text)
