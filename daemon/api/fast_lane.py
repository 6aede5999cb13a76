"""The hot endpoints, served straight from ASGI.

Chat, completion and embedding requests are most of what a daemon like this answers, and
FastAPI's routing, dependency solving and middleware layers cost more than everything else
Roundhouse does for a request. The fast lane validates a body with the endpoint's own
pydantic model and calls the endpoint's own handler. A body that does not validate goes on to
the FastAPI route, which answers with the usual error in the caller's dialect, so a request
gets the same answer on either path. The FastAPI routes stay: they describe the endpoints on
the OpenAPI page.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from roundhouse.daemon.api.common import request_meta
from roundhouse.daemon.api.disconnect import unless_client_leaves, wants_whole_answer
from roundhouse.daemon.api.errors import ApiError, error_response, exception_response
from roundhouse.daemon.api.guard import ASGIApp, Receive, Scope, Send, replay_body
from roundhouse.daemon.api.refusals import record_refusal

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lane:
    body: type[BaseModel]
    answer: Callable[[Daemon, Any, dict[str, Any]], Awaitable[Response]]
    summary: str


def add_lane_routes(router: APIRouter, lanes: dict[str, Lane]) -> None:
    """The FastAPI routes of the lanes: the same answers, described on the OpenAPI page, for
    the requests whose body does not validate (FastAPI then answers with the error)."""
    for path, lane in lanes.items():
        router.add_api_route(
            path.removeprefix(router.prefix), _endpoint(lane), methods=["POST"], summary=lane.summary
        )


def _endpoint(lane: Lane) -> Callable[..., Awaitable[Response]]:
    async def endpoint(body: BaseModel, request: Request) -> Response:
        work = lane.answer(request.app.state.rh, body, request_meta(request.scope))
        if not wants_whole_answer(body):
            return await work
        answered, response = await unless_client_leaves(request.receive, work)
        # A client that left gets nothing; an empty 499 keeps FastAPI's contract of a response.
        return response if answered and response is not None else Response(status_code=499)

    # FastAPI reads the body's model from the signature.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=lane.body),
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        ],
        return_annotation=Response,
    )
    endpoint.__name__ = lane.answer.__name__.removeprefix("answer_")
    return endpoint


def json_body_scope(scope: Scope) -> Scope:
    """Ollama's clients and its own examples (`curl -d`) send JSON with no content type or a
    form one; Ollama reads the body as JSON whatever it says, and so do its endpoints here."""
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


class FastLane:
    def __init__(self, app: ASGIApp, daemon: Daemon, lanes: dict[str, Lane]) -> None:
        self.app = app
        self.daemon = daemon
        self.lanes = lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lanes.get(scope["path"]) if scope["type"] == "http" else None
        if lane is None or scope["method"] != "POST" or not self.daemon.ready:
            if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/api/"):
                scope = json_body_scope(scope)
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        try:
            parsed = lane.body.model_validate_json(body)
        except ValidationError:
            if scope["path"].startswith("/api/"):
                scope = json_body_scope(scope)
            await self.app(scope, replay_body(body, receive), send)
            return
        path: str = scope["path"]
        try:
            if wants_whole_answer(parsed):
                answered, response = await unless_client_leaves(
                    receive, lane.answer(self.daemon, parsed, request_meta(scope))
                )
                if not answered or response is None:
                    return  # nobody to answer; the gateway recorded the request as cancelled
            else:
                response = await lane.answer(self.daemon, parsed, request_meta(scope))
        except Exception as exc:
            known = exception_response(path, exc)
            if isinstance(exc, ApiError) and not exc.in_ledger:
                record_refusal(self.daemon, scope, exc.status, exc.code, getattr(parsed, "model", None))
            if known is None:
                log.exception("%s failed", path)
                known = error_response(path, 500, "internal error; the daemon's log has the details")
            response = known
        await response(scope, receive, send)
