"""The Anthropic dialect: /v1/messages (JSON or SSE) and /v1/messages/count_tokens.

Every Messages request takes the same way as a chat completion (`Gateway.open`): routing,
privacy, budgets, cache and ledger see an ordinary ChatRequest whose dialect is "anthropic".
The `anthropic-version` and `anthropic-beta` headers are accepted and need nothing here.
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
from roundhouse.daemon.models import ChatChunk, ChatRequest
from roundhouse.daemon.routing.fallback import CHARS_PER_TOKEN, estimate_prompt_tokens

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

router = APIRouter(prefix="/v1", tags=["Anthropic dialect"])


def _chat_request(body: codec.CountTokensRequest, meta: dict[str, Any]) -> ChatRequest:
    try:
        chat = codec.to_chat_request(body, meta)
    except codec.InvalidRequest as exc:
        raise ApiError(400, f"invalid '{exc.param}': {exc.message}", param=exc.param) from None
    check_request_text(chat)
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


async def answer_messages(d: Daemon, body: codec.MessagesRequest, meta: dict[str, Any]) -> Response:
    chat = _chat_request(body, meta)
    estimate = input_tokens(chat)
    exchange = await d.gateway.open(chat)
    first, rest = await first_and_rest(exchange.chunks)
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
