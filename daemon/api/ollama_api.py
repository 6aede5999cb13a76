"""The Ollama dialect: /api/version, tags, ps, show, chat, generate, embed, embeddings.

Ollama-dialect clients see every model Roundhouse offers, cloud and virtual ones included.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from roundhouse.daemon.api.common import (
    FastJSONResponse,
    daemon_of,
    finish_after,
    first_and_rest,
    whole_answer,
)
from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.api.fast_lane import Lane, add_lane_routes
from roundhouse.daemon.api.input_checks import check_encodable, check_request_text
from roundhouse.daemon.api.ollama_options import check_options
from roundhouse.daemon.api.streaming import ByteStream
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.dialects import ollama as ollama_dialect
from roundhouse.daemon.models import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    LoadedModel,
    ModelInfo,
    ToolCall,
    ToolCallAssembler,
    Usage,
)
from roundhouse.daemon.routing.route import RoutingError

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

router = APIRouter(prefix="/api", tags=["Ollama dialect"])

# The Ollama API version Roundhouse speaks; clients compare it to enable features.
OLLAMA_COMPAT_VERSION = "0.12.6"
NDJSON = "application/x-ndjson"


class OllamaFunctionCall(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class OllamaToolCall(BaseModel):
    model_config = ConfigDict(extra="allow")
    function: OllamaFunctionCall


class OllamaMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[OllamaToolCall] | None = None
    tool_name: str | None = None


class OllamaChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    messages: list[OllamaMessage] = Field(default_factory=list)
    stream: bool = True
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | float | None = None
    tools: list[dict[str, Any]] | None = None
    think: bool | str | None = None


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    stream: bool = True
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | float | None = None
    raw: bool | None = None
    images: list[str] | None = None


class ShowRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    name: str | None = None


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    input: str | list[str]
    truncate: bool | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | float | None = None


class LegacyEmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    prompt: str
    options: dict[str, Any] | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _details(model: ModelInfo) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf" if model.local and not model.virtual else "",
        "family": model.family,
        "families": [model.family] if model.family else None,
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization,
    }


def _tag(model: ModelInfo) -> dict[str, Any]:
    return {
        "name": model.id,
        "model": model.id,
        "modified_at": _now(),
        "size": model.size_bytes,
        "digest": "",
        "details": _details(model),
    }


def _ps_row(loaded: LoadedModel, info: ModelInfo | None) -> dict[str, Any]:
    return {
        "name": loaded.id,
        "model": loaded.id,
        "size": loaded.size_bytes,
        "digest": "",
        "details": _details(info) if info else {},
        "expires_at": loaded.expires_at or "0001-01-01T00:00:00Z",
        "size_vram": loaded.size_vram,
        "context_length": loaded.context_length,
    }


def _sampling(options: dict[str, Any] | None) -> dict[str, Any]:
    """Ollama options, each known one checked (see ollama_options.py), as ChatRequest fields."""
    return ollama_dialect.sampling_fields(check_options(options))


def _messages(messages: list[OllamaMessage]) -> list[dict[str, Any]]:
    # The history's call ids depend only on the history, so a repeated request keeps its cache key.
    return ollama_dialect.chat_messages([m.model_dump(exclude_none=True) for m in messages], "in")


def _final_fields(result_usage: Any, started: float, finish: str) -> dict[str, Any]:
    total_ns = int((time.perf_counter() - started) * 1e9)
    return {
        "done": True,
        "done_reason": finish,
        "total_duration": total_ns,
        "load_duration": 0,
        "prompt_eval_count": result_usage.prompt_tokens,
        "prompt_eval_duration": 0,
        "eval_count": result_usage.completion_tokens,
        "eval_duration": total_ns,
    }


def _done_reason(finish: str | None) -> str:
    return "length" if finish == "length" else "stop"


Shape = Literal["chat", "generate"]


def _line(shape: Shape, model: str, content: str, tool_calls: list[dict[str, Any]] | None) -> dict[str, Any]:
    line: dict[str, Any] = {"model": model, "created_at": _now()}
    if shape == "generate":
        line["response"] = content
    else:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = ollama_dialect.ollama_tool_calls(tool_calls)
        line["message"] = message
    return line


async def _ndjson(
    shape: Shape, model: str, first: ChatChunk | None, rest: AsyncIterator[ChatChunk], started: float
) -> AsyncIterator[bytes]:
    usage = None
    finish: str | None = None
    # Ollama sends each tool call whole; the pieces a backend streams are joined first, so a cut
    # stream never hands the client half a call.
    calls = ToolCallAssembler(ToolCall)
    try:
        chunk = first
        while chunk is not None:
            if chunk.usage is not None:
                usage = chunk.usage
            finish = chunk.finish_reason or finish
            for piece in chunk.tool_calls or ():
                calls.feed(piece)
            if chunk.content:
                line = _line(shape, model, chunk.content, None)
                line["done"] = False
                yield to_json(line) + b"\n"
            chunk = await anext(rest, None)
    except (BackendError, QueueFull) as exc:
        yield json.dumps({"error": str(exc)}).encode() + b"\n"
        return
    if calls.calls:
        line = _line(shape, model, "", [call.as_openai() for call in calls.calls])
        line["done"] = False
        yield to_json(line) + b"\n"
    final = _line(shape, model, "", None)
    final.update(_final_fields(usage or Usage(), started, _done_reason(finish)))
    yield to_json(final) + b"\n"


async def _respond(d: Daemon, chat: ChatRequest, shape: Shape) -> Response:
    started = time.perf_counter()
    check_request_text(chat)
    exchange = await d.gateway.open(chat)
    first, rest = await first_and_rest(exchange.chunks)
    model = exchange.route.model.id  # after the first chunk: a fallback names its model by then
    if chat.stream:
        return ByteStream(
            _ndjson(shape, model, first, rest, started), media_type=NDJSON, headers=exchange.headers
        )
    result = ChatResult.from_chunks(await whole_answer(first, rest))
    body = _line(shape, model, result.content, result.tool_calls)
    body.update(_final_fields(result.usage, started, _done_reason(result.finish_reason)))
    return FastJSONResponse(body, headers=exchange.headers, background=finish_after(rest))


async def _load_or_unload(d: Daemon, name: str, keep_alive: str | float | None, kind: str) -> JSONResponse:
    """Ollama's load-only form (no prompt/messages) and unload form (keep_alive 0)."""
    await d.catalog.refresh()
    target = d.catalog.resolve(name)
    if target is None:
        virtual = {m.id for m in d.catalog.virtual_models()}
        if name in virtual:
            return FastJSONResponse(_load_body(name, kind, "load"))
        raise ApiError(404, f"model '{name}' not found", code="model_not_found")
    unload = keep_alive in (0, "0", "0s", "0m")
    if unload:
        await d.residency.unload(target)
    else:
        await d.residency.preload(target, keep_alive)
    return FastJSONResponse(_load_body(target.model.id, kind, "unload" if unload else "load"))


def _load_body(model: str, kind: str, reason: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "created_at": _now(), "done_reason": reason, "done": True}
    if kind == "chat":
        body["message"] = {"role": "assistant", "content": ""}
    else:
        body["response"] = ""
    return body


@router.get("/version", summary="Version (Open WebUI's connection check)")
async def version() -> dict[str, str]:
    return {"version": OLLAMA_COMPAT_VERSION}


@router.get("/tags", summary="Every model Roundhouse offers")
async def tags(request: Request) -> dict[str, Any]:
    models = await daemon_of(request).catalog.all_models()
    return {"models": [_tag(m) for m in models if m.kind == "chat" or not m.virtual]}


@router.get("/ps", summary="Models loaded in memory")
async def ps(request: Request) -> dict[str, Any]:
    d = daemon_of(request)
    rows = []
    for backend in d.catalog.backends.values():
        try:
            loaded = await backend.loaded()
        except BackendError:
            continue
        rows.extend(_ps_row(m, d.catalog.lookup(m.id)) for m in loaded)
    return {"models": rows}


@router.post("/show", summary="Model details")
async def show(body: ShowRequest, request: Request) -> dict[str, Any]:
    name = body.model or body.name
    if not name:
        raise ApiError(400, "missing required field 'model'", code="invalid_request")
    d = daemon_of(request)
    await d.catalog.refresh()
    info = d.catalog.lookup(name) or next((m for m in d.catalog.virtual_models() if m.id == name), None)
    if info is None:
        raise ApiError(404, f"model '{name}' not found", code="model_not_found")
    backend = d.catalog.backends.get(info.backend)
    upstream = getattr(backend, "show", None)
    if callable(upstream):
        shown: dict[str, Any] = await upstream(info.native)
        shown["details"] = shown.get("details") or _details(info)
        return shown
    capabilities = (
        ["embedding"]
        if info.kind == "embedding"
        else ["completion"] + (["tools"] if info.supports_tools else [])
    )
    return {
        "license": "",
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": _details(info),
        "model_info": {
            "general.architecture": info.family or "unknown",
            "roundhouse.backend": info.backend,
            "roundhouse.context_length": info.context_length,
            "roundhouse.local": info.local,
        },
        "capabilities": capabilities,
        "modified_at": _now(),
    }


async def answer_chat(d: Daemon, body: OllamaChatRequest, meta: dict[str, Any]) -> Response:
    if not body.messages:
        return await _load_or_unload(d, body.model, body.keep_alive, "chat")
    chat_request = ChatRequest(
        model=body.model,
        messages=_messages(body.messages),
        stream=body.stream,
        tools=body.tools,
        response_format=ollama_dialect.response_format(body.format),
        keep_alive=body.keep_alive,
        dialect="ollama",
        **_sampling(body.options),
        **meta,
    )
    return await _respond(d, chat_request, shape="chat")


async def answer_generate(d: Daemon, body: GenerateRequest, meta: dict[str, Any]) -> Response:
    if not body.prompt and body.suffix is None:
        return await _load_or_unload(d, body.model, body.keep_alive, "generate")
    if body.raw or body.suffix is not None:
        if body.images:
            raise ApiError(
                400, "'images' cannot be sent with raw or suffix (a plain completion)", code="unsupported"
            )
        chat_request = ChatRequest(
            model=body.model,
            kind="completion",
            prompt=body.prompt or "",
            suffix=body.suffix,
            stream=body.stream,
            keep_alive=body.keep_alive,
            dialect="ollama",
            **_sampling(body.options),
            **meta,
        )
    else:
        messages: list[dict[str, Any]] = []
        if body.system:
            messages.append({"role": "system", "content": body.system})
        prompt = OllamaMessage(role="user", content=body.prompt or "", images=body.images)
        messages.extend(_messages([prompt]))
        chat_request = ChatRequest(
            model=body.model,
            messages=messages,
            stream=body.stream,
            keep_alive=body.keep_alive,
            response_format=ollama_dialect.response_format(body.format),
            dialect="ollama",
            **_sampling(body.options),
            **meta,
        )
    return await _respond(d, chat_request, shape="generate")


async def answer_embed(d: Daemon, body: EmbedRequest, meta: dict[str, Any]) -> Response:
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs:
        raise ApiError(400, "'input' must not be empty", code="invalid_request")
    check_encodable(input=body.input)
    check_options(body.options)
    started = time.perf_counter()
    chat_request = ChatRequest(model=body.model, dialect="ollama", **meta)
    model, vectors = await d.gateway.embed(chat_request, inputs, endpoint="embed")
    return FastJSONResponse(
        {
            "model": model.id,
            "embeddings": vectors,
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": 0,
            "prompt_eval_count": sum(len(t.split()) for t in inputs),
        }
    )


async def answer_legacy_embeddings(
    d: Daemon, body: LegacyEmbeddingsRequest, meta: dict[str, Any]
) -> Response:
    check_encodable(prompt=body.prompt)
    chat_request = ChatRequest(model=body.model, dialect="ollama", **meta)
    _, vectors = await d.gateway.embed(chat_request, [body.prompt], endpoint="embeddings")
    return FastJSONResponse({"embedding": vectors[0]})


# The hot endpoints, served by the fast lane (see fast_lane.py), with FastAPI routes that
# describe them on the OpenAPI page and answer the requests whose body does not validate.
LANES: dict[str, Lane] = {
    "/api/chat": Lane(OllamaChatRequest, answer_chat, "Chat (NDJSON stream unless stream is false)"),
    "/api/generate": Lane(
        GenerateRequest, answer_generate, "Generate (NDJSON stream unless stream is false)"
    ),
    "/api/embed": Lane(EmbedRequest, answer_embed, "Embeddings (batch)"),
    "/api/embeddings": Lane(
        LegacyEmbeddingsRequest, answer_legacy_embeddings, "Embeddings (legacy, one prompt)"
    ),
}
add_lane_routes(router, LANES)


__all__ = ["RoutingError", "router"]
