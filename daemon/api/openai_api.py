"""The OpenAI dialect: /v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, NotRequired

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, with_config
from pydantic_core import to_json
from typing_extensions import TypedDict

from roundhouse.daemon.api.common import (
    FastJSONResponse,
    daemon_of,
    finish_after,
    first_and_rest,
    whole_answer,
)
from roundhouse.daemon.api.errors import ApiError, error_body
from roundhouse.daemon.api.fast_lane import Lane, add_lane_routes
from roundhouse.daemon.api.input_checks import INT64_MAX, INT64_MIN, check_encodable, check_request_text
from roundhouse.daemon.api.streaming import ByteStream
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.dialects import anthropic_messages
from roundhouse.daemon.models import ChatChunk, ChatRequest, ChatResult, ModelInfo, Usage

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

router = APIRouter(prefix="/v1", tags=["OpenAI dialect"])
CHARS_PER_TOKEN = 4
ANTHROPIC_VERSION = "anthropic-version"


# A TypedDict rather than a model: pydantic validates it straight into the dicts the internal
# request carries, where a model costs an instance per message and a dump back to dicts.
@with_config(ConfigDict(extra="allow"))
class ChatMessage(TypedDict):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: NotRequired[str | list[dict[str, Any]] | None]
    name: NotRequired[str | None]
    tool_calls: NotRequired[list[dict[str, Any]] | None]
    tool_call_id: NotRequired[str | None]


class StreamOptions(BaseModel):
    include_usage: bool = False


class Sampling(BaseModel):
    """The sampling fields both completion endpoints share, with the ranges OpenAI documents
    (integers also within what a backend can hold)."""

    model_config = ConfigDict(extra="allow")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)


class ChatCompletionRequest(Sampling):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request is supported.")
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = None


class CompletionRequest(Sampling):
    model: str = Field(min_length=1)
    prompt: str | list[str] = ""
    suffix: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=16, ge=1, le=INT64_MAX)
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool | None = None
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request is supported.")
    user: str | None = None


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    input: str | list[str] = Field(description="Text or a list of texts (token arrays are not supported).")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=INT64_MAX)
    user: str | None = None


def _without_nulls(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The messages as the internal request has them: a key sent as null is left out."""
    return [
        {k: v for k, v in m.items() if v is not None} if None in m.values() else dict(m) for m in messages
    ]


def _stop_list(stop: str | list[str] | None) -> list[str] | None:
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else list(stop)


def _model_card(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": 0,
        "owned_by": "roundhouse" if model.virtual else model.backend,
    }


@router.get("/models", summary="List models, virtual ones first")
async def list_models(request: Request) -> dict[str, Any]:
    models = await daemon_of(request).catalog.all_models()
    if ANTHROPIC_VERSION in request.headers:  # the anthropic SDK's models.list()
        return anthropic_messages.models_page(models)
    return {"object": "list", "data": [_model_card(m) for m in models]}


@router.get("/models/{model_id:path}", summary="One model")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    for model in await daemon_of(request).catalog.all_models():
        if model.id == model_id or model.native == model_id:
            if ANTHROPIC_VERSION in request.headers:
                return anthropic_messages.model_json(model)
            return _model_card(model)
    raise ApiError(404, f"model '{model_id}' not found", code="model_not_found", param="model")


def _chunk_json(
    kind: str, rid: str, created: int, model: str, chunk: ChatChunk, first: bool
) -> dict[str, Any]:
    if kind == "completion":
        return {
            "id": rid,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "text": chunk.content, "logprobs": None, "finish_reason": chunk.finish_reason}
            ],
        }
    delta: dict[str, Any] = {}
    if first:
        delta["role"] = "assistant"
    if chunk.content or first:
        delta["content"] = chunk.content
    if chunk.tool_calls:
        delta["tool_calls"] = chunk.tool_calls
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": chunk.finish_reason}],
    }


def estimated_usage(chat: ChatRequest, answer_chars: int, answer_chunks: int) -> Usage:
    """Token counts for an answer whose upstream sent none: about four characters a token
    (and never fewer tokens than streamed pieces)."""
    prompt = -(-len(chat.text()) // CHARS_PER_TOKEN) + 4 * len(chat.messages)
    return Usage(int(prompt), max(answer_chunks, -(-answer_chars // CHARS_PER_TOKEN)))


def _usage_json(result_usage: Any) -> dict[str, int]:
    return {
        "prompt_tokens": result_usage.prompt_tokens,
        "completion_tokens": result_usage.completion_tokens,
        "total_tokens": result_usage.total_tokens,
    }


async def _sse(
    chat: ChatRequest, model: str, first: ChatChunk | None, rest: AsyncIterator[ChatChunk]
) -> AsyncIterator[bytes]:
    prefix = "cmpl-" if chat.kind == "completion" else "chatcmpl-"
    rid, created = prefix + chat.request_id[3:], int(chat.received_at)
    usage = None
    is_first = True
    answered = parts = 0  # characters and chunks of the answer, for usage the upstream did not send
    try:
        chunk = first
        while chunk is not None:
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.content:
                answered += len(chunk.content)
                parts += 1
            if chunk.content or chunk.tool_calls or chunk.finish_reason or is_first:
                payload = _chunk_json(chat.kind, rid, created, model, chunk, is_first)
                yield b"data: " + to_json(payload) + b"\n\n"
                is_first = False
            chunk = await anext(rest, None)
        if chat.include_usage:
            usage = usage or estimated_usage(chat, answered, parts)
            tail = {
                "id": rid,
                "object": "chat.completion.chunk" if chat.kind == "chat" else "text_completion",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage_json(usage),
            }
            yield b"data: " + to_json(tail) + b"\n\n"
    except (BackendError, QueueFull) as exc:
        status = exc.status if isinstance(exc, BackendError) else 503
        body = error_body("openai", status, str(exc), getattr(exc, "kind", "queue_full"))
        yield b"data: " + json.dumps(body).encode() + b"\n\n"


def _unsupported(field: str, what: str) -> ApiError:
    return ApiError(400, f"'{field}' is not supported: {what}", code="unsupported_parameter", param=field)


async def _respond(d: Daemon, chat: ChatRequest) -> Response:
    check_request_text(chat)
    exchange = await d.gateway.open(chat)
    first, rest = await first_and_rest(exchange.chunks)
    model = exchange.route.model.id  # after the first chunk: a fallback names its model by then
    if chat.stream:
        return ByteStream(
            _sse(chat, model, first, rest),
            media_type="text/event-stream",
            headers={**exchange.headers, "cache-control": "no-cache"},
            last=b"data: [DONE]\n\n",
        )
    result = ChatResult.from_chunks(await whole_answer(first, rest))
    created = int(chat.received_at)
    if chat.kind == "completion":
        body: dict[str, Any] = {
            "id": "cmpl-" + chat.request_id[3:],
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "text": result.content, "logprobs": None, "finish_reason": result.finish_reason}
            ],
            "usage": _usage_json(result.usage),
        }
    else:
        message: dict[str, Any] = {"role": "assistant", "content": result.content}
        if result.tool_calls:
            message["tool_calls"] = result.tool_calls
        body = {
            "id": "chatcmpl-" + chat.request_id[3:],
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}
            ],
            "usage": _usage_json(result.usage),
        }
    return FastJSONResponse(body, headers=exchange.headers, background=finish_after(rest))


async def answer_chat(d: Daemon, body: ChatCompletionRequest, meta: dict[str, Any]) -> Response:
    if body.logprobs or body.top_logprobs:
        field = "logprobs" if body.logprobs else "top_logprobs"
        raise _unsupported(field, "Roundhouse does not return token log probabilities")
    chat = ChatRequest(
        model=body.model,
        messages=_without_nulls(body.messages),
        stream=body.stream,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=_stop_list(body.stop),
        seed=body.seed,
        tools=body.tools,
        tool_choice=body.tool_choice,
        response_format=body.response_format,
        dialect="openai",
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        user=body.user,
        **meta,
    )
    return await _respond(d, chat)


async def answer_completion(d: Daemon, body: CompletionRequest, meta: dict[str, Any]) -> Response:
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise ApiError(
                400, "only one prompt per request is supported", code="invalid_request", param="prompt"
            )
        prompt = prompt[0]
    if body.logprobs is not None:
        raise _unsupported("logprobs", "Roundhouse does not return token log probabilities")
    if body.echo:
        raise _unsupported("echo", "the prompt is not repeated in the answer")
    chat = ChatRequest(
        model=body.model,
        kind="completion",
        prompt=prompt,
        suffix=body.suffix,
        stream=body.stream,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_tokens,
        stop=_stop_list(body.stop),
        seed=body.seed,
        dialect="openai",
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        user=body.user,
        **meta,
    )
    return await _respond(d, chat)


async def answer_embeddings(d: Daemon, body: EmbeddingRequest, meta: dict[str, Any]) -> Response:
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs:
        raise ApiError(400, "'input' must not be empty", code="invalid_request", param="input")
    check_encodable(input=body.input)
    chat = ChatRequest(model=body.model, dialect="openai", **meta)
    model, vectors = await d.gateway.embed(chat, inputs, endpoint="embeddings")
    if body.dimensions is not None and vectors and body.dimensions != len(vectors[0]):
        raise ApiError(
            400,
            f"'dimensions' is not supported for {model.id}: it gives {len(vectors[0])}-dimensional "
            "embeddings and cannot shorten them",
            code="unsupported_parameter",
            param="dimensions",
            in_ledger=True,
        )
    data = []
    for index, vector in enumerate(vectors):
        embedding: Any = vector
        if body.encoding_format == "base64":
            embedding = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(t.split()) for t in inputs)
    return FastJSONResponse(
        {
            "object": "list",
            "data": data,
            "model": model.id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        headers={"x-roundhouse-request-id": chat.request_id},
    )


# The hot endpoints, served by the fast lane (see fast_lane.py), with FastAPI routes that
# describe them on the OpenAPI page and answer the requests whose body does not validate.
LANES: dict[str, Lane] = {
    "/v1/chat/completions": Lane(
        ChatCompletionRequest, answer_chat, "Chat completion (SSE when stream is true)"
    ),
    "/v1/completions": Lane(
        CompletionRequest, answer_completion, "Text completion, with `suffix` for fill-in-the-middle"
    ),
    "/v1/embeddings": Lane(EmbeddingRequest, answer_embeddings, "Embeddings"),
}
add_lane_routes(router, LANES)
