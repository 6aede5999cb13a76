"""OpenAI's Responses API: POST /v1/responses (JSON or SSE), GET and DELETE /v1/responses/{id},
GET /v1/responses/{id}/input_items.

Every request takes the same way as a chat completion (`Gateway.open`): routing, privacy,
budgets, cache and ledger see an ordinary ChatRequest whose dialect is "responses". With
`store` (the default) the response and its input are kept, so `previous_response_id` can
continue the conversation; `store: false` keeps nothing.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from roundhouse.daemon.api.common import (
    FastJSONResponse,
    daemon_of,
    finish_after,
    first_and_rest,
    request_meta,
    whole_answer,
)
from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.api.fast_lane import Lane, add_lane_routes
from roundhouse.daemon.api.input_checks import check_request_text
from roundhouse.daemon.api.openai_api import estimated_usage
from roundhouse.daemon.api.streaming import ByteStream
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.dialects import openai_responses as codec
from roundhouse.daemon.models import ChatChunk, ChatRequest
from roundhouse.daemon.store import Store
from roundhouse.daemon.stored_responses import StoredResponses

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["OpenAI Responses"])
_kept: weakref.WeakKeyDictionary[Store, StoredResponses] = weakref.WeakKeyDictionary()


async def _stored(d: Daemon) -> StoredResponses:
    """The daemon's stored responses; the first use creates the table (off the event loop)."""
    book = _kept.get(d.store)
    if book is None:
        book = _kept[d.store] = await asyncio.to_thread(StoredResponses, d.store)
    return book


def _not_found(response_id: str) -> ApiError:
    return ApiError(404, f"response '{response_id}' not found", code="not_found", param="response_id")


def _invalid(exc: codec.InvalidRequest) -> ApiError:
    return ApiError(400, f"invalid '{exc.param}': {exc.message}", code="invalid_request", param=exc.param)


async def _chat_request(
    d: Daemon, body: codec.ResponsesRequest, items: list[dict[str, Any]], meta: dict[str, Any]
) -> ChatRequest:
    history: list[dict[str, Any]] = []
    if body.previous_response_id:
        found = (await _stored(d)).history(body.previous_response_id, meta["app"])
        if found is None:
            raise ApiError(
                400,
                f"previous response '{body.previous_response_id}' not found (responses made with "
                "store: false are not kept)",
                code="previous_response_not_found",
                param="previous_response_id",
            )
        history = found
    try:
        return codec.to_chat_request(body, history, items, meta)
    except codec.InvalidRequest as exc:
        raise _invalid(exc) from None


async def _events(
    encoder: codec.StreamEncoder,
    first: ChatChunk | None,
    rest: AsyncIterator[ChatChunk],
    keep: StoredResponses | None,
    items: list[dict[str, Any]],
    app: str,
) -> AsyncIterator[bytes]:
    yield encoder.start()
    try:
        chunk = first
        while chunk is not None:
            out = encoder.feed(chunk)
            if out:
                yield out
            chunk = await anext(rest, None)
        closing, response = encoder.end()
        if keep is not None:  # before the last event: a client may continue from it at once
            await keep.save(response, items, app)
        yield closing + encoder.last(response)
    except (BackendError, QueueFull) as exc:
        status = exc.status if isinstance(exc, BackendError) else 503
        yield encoder.failure(status, str(exc), getattr(exc, "kind", "queue_full"))
    except codec.CutOff as exc:
        yield encoder.failure(502, f"the answer was cut off: {exc}", "incomplete_answer")
        await finish_after(rest)()  # the backend's slot, the ledger row


async def answer_responses(d: Daemon, body: codec.ResponsesRequest, meta: dict[str, Any]) -> Response:
    items = codec.input_items(body.input)
    chat = await _chat_request(d, body, items, meta)
    check_request_text(chat)
    estimate = estimated_usage(chat, 0, 0).prompt_tokens
    exchange = await d.gateway.open(chat)
    first, rest = await first_and_rest(exchange.chunks)
    model = exchange.route.model.id  # after the first chunk: a fallback names its model by then
    response_id = "resp_" + chat.request_id[3:]
    base = codec.skeleton(body, response_id=response_id, created_at=int(chat.received_at), model=model)
    keep = await _stored(d) if body.keep else None
    kept_items = codec.stored_input(items, response_id)
    if chat.stream:
        encoder = codec.StreamEncoder(base, estimate, body)
        return ByteStream(
            _events(encoder, first, rest, keep, kept_items, chat.app),
            media_type="text/event-stream",
            headers={**exchange.headers, "cache-control": "no-cache"},
        )
    chunks = await whole_answer(first, rest)
    try:
        response = codec.response_json(chunks, base, estimate, body)
    except codec.CutOff as exc:
        await finish_after(rest)()
        raise ApiError(502, f"the answer was cut off: {exc}", code="incomplete_answer") from None
    if keep is not None:
        await keep.save(response, kept_items, chat.app)
    return FastJSONResponse(response, headers=exchange.headers, background=finish_after(rest))


@router.get("/responses/{response_id}", summary="A stored response")
async def get_response(response_id: str, request: Request) -> dict[str, Any]:
    app = request_meta(request.scope)["app"]
    found = (await _stored(daemon_of(request))).response(response_id, app)
    if found is None:
        raise _not_found(response_id)
    return found


@router.delete("/responses/{response_id}", summary="Delete a stored response")
async def delete_response(response_id: str, request: Request) -> dict[str, Any]:
    app = request_meta(request.scope)["app"]
    if not await (await _stored(daemon_of(request))).delete(response_id, app):
        raise _not_found(response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}


@router.get("/responses/{response_id}/input_items", summary="A stored response's input items")
async def input_items(
    response_id: str,
    request: Request,
    limit: int = Query(default=20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    app = request_meta(request.scope)["app"]
    items = (await _stored(daemon_of(request))).input_items(response_id, app)
    if items is None:
        raise _not_found(response_id)
    if order == "desc":
        items.reverse()
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise ApiError(
                400, f"no input item '{after}' in this response", code="invalid_request", param="after"
            )
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


LANES: dict[str, Lane] = {
    "/v1/responses": Lane(
        codec.ResponsesRequest, answer_responses, "OpenAI Responses (SSE when stream is true)"
    ),
}
add_lane_routes(router, LANES)
