"""The Anthropic dialect: /v1/messages (JSON or SSE) and /v1/messages/count_tokens.

Every Messages request takes the same way as a chat completion (`Gateway.open`): routing,
privacy, budgets, cache and ledger see an ordinary ChatRequest whose dialect is "anthropic".
It carries the client's own body and its `anthropic-version` and `anthropic-beta` headers as
its NativeBody: a backend that calls Anthropic itself sends that on and answers with
Anthropic's own events, which go to the client as they came.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from roundhouse.daemon.api.common import (
    FastJSONResponse,
    finish_after,
    first_and_rest,
    request_meta,
    whole_answer,
)
from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.api.fast_lane import Lane, add_lane_routes
from roundhouse.daemon.api.input_checks import check_request_text
from roundhouse.daemon.api.streaming import ByteStream
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.dialects import anthropic_messages as codec
from roundhouse.daemon.models import ChatChunk, ChatRequest, NativeBody
from roundhouse.daemon.routing.fallback import CHARS_PER_TOKEN, estimate_prompt_tokens

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.gateway import Exchange

router = APIRouter(prefix="/v1", tags=["Anthropic dialect"])


def _chat_request(body: codec.CountTokensRequest, meta: dict[str, Any]) -> ChatRequest:
    headers = meta.pop("dialect_headers", None) or {}
    try:
        chat = codec.to_chat_request(body, meta)
    except codec.InvalidRequest as exc:
        raise ApiError(400, f"invalid '{exc.param}': {exc.message}", param=exc.param) from None
    check_request_text(chat)
    if isinstance(body, codec.MessagesRequest):
        # The body as the client sent it, for a backend that speaks Anthropic itself.
        chat.native = NativeBody(
            dialect="anthropic",
            body=body.model_dump(exclude_unset=True),
            headers=headers,
            translated=NativeBody.fingerprint(chat.messages),
        )
        if body.thinking and body.thinking.get("type") != "disabled" and chat.cache_control is None:
            chat.cache_control = "no-store"  # the cache keeps text: the thinking blocks would be lost
    return chat


def input_tokens(chat: ChatRequest) -> int:
    """The daemon's own estimate of a request's input tokens: messages and tool definitions."""
    tools = int(len(json.dumps(chat.tools)) / CHARS_PER_TOKEN) if chat.tools else 0
    return estimate_prompt_tokens(chat) + tools


async def _events(
    encoder: codec.StreamEncoder, first: ChatChunk | None, rest: AsyncIterator[ChatChunk]
) -> AsyncIterator[bytes]:
    yield encoder.start()
    try:
        chunk = first
        while chunk is not None:
            out = encoder.feed(chunk)
            if out:
                yield out
            chunk = await anext(rest, None)
        yield encoder.end()
    except (BackendError, QueueFull) as exc:
        status = exc.status if isinstance(exc, BackendError) else 529
        yield codec.error_event(status, str(exc))
    except codec.CutOff as exc:
        yield codec.error_event(502, f"the answer was cut off: {exc}")
        await finish_after(rest)()  # the backend's slot, the ledger row


async def _native_events(first: ChatChunk, rest: AsyncIterator[ChatChunk]) -> AsyncIterator[bytes]:
    """Anthropic's own events, as Anthropic sent them."""
    try:
        chunk: ChatChunk | None = first
        while chunk is not None:
            if chunk.native is not None:
                yield codec.sse(str(chunk.native.get("type", "")), chunk.native)
            chunk = await anext(rest, None)
    except (BackendError, QueueFull) as exc:
        status = exc.status if isinstance(exc, BackendError) else 529
        yield codec.error_event(status, str(exc))


async def _native_answer(exchange: Exchange, first: ChatChunk, rest: AsyncIterator[ChatChunk]) -> Response:
    if exchange.request.stream:
        return ByteStream(
            _native_events(first, rest),
            media_type="text/event-stream",
            headers={**exchange.headers, "cache-control": "no-cache"},
        )
    chunks = await whole_answer(first, rest)
    message = next(
        (c.native for c in chunks if c.native is not None and c.native.get("type") == "message"), None
    )
    if message is None:
        await finish_after(rest)()
        raise ApiError(502, "the provider's answer had no message", code="incomplete_answer")
    return FastJSONResponse(message, headers=exchange.headers, background=finish_after(rest))


async def answer_messages(d: Daemon, body: codec.MessagesRequest, meta: dict[str, Any]) -> Response:
    chat = _chat_request(body, meta)
    estimate = input_tokens(chat)
    exchange = await d.gateway.open(chat)
    first, rest = await first_and_rest(exchange.chunks)
    if first is not None and first.native is not None:
        return await _native_answer(exchange, first, rest)
    model = exchange.route.model.id  # after the first chunk: a fallback names its model by then
    message_id = "msg_" + chat.request_id[3:]
    if chat.stream:
        encoder = codec.StreamEncoder(message_id=message_id, model=model, input_estimate=estimate)
        return ByteStream(
            _events(encoder, first, rest),
            media_type="text/event-stream",
            headers={**exchange.headers, "cache-control": "no-cache"},
        )
    chunks = await whole_answer(first, rest)
    try:
        message = codec.message_json(chunks, message_id=message_id, model=model, input_estimate=estimate)
    except codec.CutOff as exc:
        await finish_after(rest)()
        raise ApiError(502, f"the answer was cut off: {exc}", code="incomplete_answer") from None
    return FastJSONResponse(message, headers=exchange.headers, background=finish_after(rest))


@router.post("/messages/count_tokens", summary="Count a Messages request's input tokens (an estimate)")
async def count_tokens(body: codec.CountTokensRequest, request: Request) -> dict[str, int]:
    return {"input_tokens": input_tokens(_chat_request(body, request_meta(request.scope)))}


LANES: dict[str, Lane] = {
    "/v1/messages": Lane(
        codec.MessagesRequest, answer_messages, "Anthropic Messages (SSE when stream is true)"
    ),
}
add_lane_routes(router, LANES)
