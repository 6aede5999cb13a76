"""Requests and routes for cache tests."""

from __future__ import annotations

from typing import Any

from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo, Usage
from roundhouse.daemon.routing.route import Route, Target


class _Backend:
    local = True

    def __init__(self, name: str) -> None:
        self.name = name


def route(model: str = "ollama/llama3.1:8b", tier: str | None = None) -> Route:
    info = ModelInfo(id=model, backend="ollama", native=model.split("/", 1)[-1], local=True)
    return Route(target=Target(model=info, backend=_Backend("ollama")), tier=tier)  # type: ignore[arg-type]


def ask(
    text: str, *, history: list[dict[str, Any]] | None = None, system: str | None = None, **kw: Any
) -> ChatRequest:
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages += history or []
    messages.append({"role": "user", "content": text})
    kw.setdefault("temperature", 0)
    return ChatRequest(model="ollama/llama3.1:8b", messages=messages, **kw)


def answer(text: str) -> list[ChatChunk]:
    words = text.split(" ")
    chunks = [ChatChunk(content=w + (" " if i < len(words) - 1 else "")) for i, w in enumerate(words)]
    chunks.append(ChatChunk(finish_reason="stop", usage=Usage(prompt_tokens=7, completion_tokens=len(words))))
    return chunks


def text_of(chunks: list[ChatChunk] | None) -> str:
    return "".join(c.content for c in chunks or [])
