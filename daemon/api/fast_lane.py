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
from roundhouse.daemon.api.errors import error_response, exception_response
from roundhouse.daemon.api.guard import ASGIApp, Receive, Scope, Send, replay_body

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
        return await lane.answer(request.app.state.rh, body, request_meta(request.scope))

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


class FastLane:
    def __init__(self, app: ASGIApp, daemon: Daemon, lanes: dict[str, Lane]) -> None:
        self.app = app
        self.daemon = daemon
        self.lanes = lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lanes.get(scope["path"]) if scope["type"] == "http" else None
        if lane is None or scope["method"] != "POST" or not self.daemon.ready:
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
            await self.app(scope, replay_body(body, receive), send)
            return
        path: str = scope["path"]
        try:
            response = await lane.answer(self.daemon, parsed, request_meta(scope))
        except Exception as exc:
            known = exception_response(path, exc)
            if known is None:
                log.exception("%s failed", path)
                known = error_response(path, 500, f"internal error: {type(exc).__name__}")
            response = known
        await response(scope, receive, send)
