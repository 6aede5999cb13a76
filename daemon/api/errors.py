"""Errors in the caller's dialect: OpenAI's error object, Ollama's {"error": ...}, Anthropic's
{"type": "error", "error": {...}}."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from roundhouse.daemon.api.refusals import record_refusal
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import QueueFull
from roundhouse.daemon.dialects import anthropic_messages
from roundhouse.daemon.routing.route import RoutingError

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """`in_ledger`: the gateway has written the request's row already (see refusals.py)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        in_ledger: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.in_ledger = in_ledger
        self.headers: dict[str, str] = {}


def dialect_of(path: str) -> str:
    if path.startswith("/api/"):
        return "ollama"
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return "anthropic"
    return "openai"


def error_body(
    dialect: str, status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    if dialect == "ollama":
        return {"error": message}
    if dialect == "anthropic":
        return anthropic_messages.error_json(status, message)
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    path: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(dialect_of(path), status, message, code, param), status_code=status, headers=headers
    )


def error_bytes(path: str, status: int, message: str, code: str | None = None) -> bytes:
    return json.dumps(error_body(dialect_of(path), status, message, code)).encode()


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "literal", "any", "bytes"})


def _is_union_member(part: str) -> bool:
    """Whether a location part is pydantic's tag for one member of a union, not a field name."""
    return part in _TYPE_TAGS or "[" in part or part.startswith(("function-", "constrained-", "typed-dict"))


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request body", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    location = []
    for part in first.get("loc", ()):
        if isinstance(part, str) and _is_union_member(part):
            break  # "stop.str" is the field "stop", tried as a string
        if part != "body":
            location.append(str(part))
    where = ".".join(location)
    message = first.get("msg", "invalid value")
    if first.get("type") == "missing":
        return f"missing required field '{where}'", where or None
    return (f"invalid '{where}': {message}" if where else message), where or None


def exception_response(path: str, exc: Exception) -> JSONResponse | None:
    """The caller's-dialect answer for an exception a request can end in; None when it is a bug."""
    if isinstance(exc, ApiError):
        return error_response(
            path, exc.status, exc.message, code=exc.code, param=exc.param, headers=exc.headers
        )
    if isinstance(exc, RoutingError):
        return error_response(path, exc.status, str(exc), code=exc.kind, param=exc.param)
    if isinstance(exc, BackendError):
        status = exc.status if 400 <= exc.status < 600 else 502
        # The upstream's Retry-After (a 429, or a host cooling down) reaches the client.
        retry = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after is not None else None
        return error_response(path, status, str(exc), code=exc.kind, headers=retry)
    if isinstance(exc, QueueFull):
        retry = str(max(1, round(exc.retry_after)))
        return error_response(path, 503, str(exc), code="queue_full", headers={"Retry-After": retry})
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        body = exc.body if isinstance(exc.body, dict) else {}
        record_refusal(request.app.state.rh, request.scope, 400, "invalid_request", body.get("model"))
        return error_response(request.url.path, 400, message, code="invalid_request", param=param)

    async def _known(request: Request, exc: Exception) -> JSONResponse:
        response = exception_response(request.url.path, exc)
        assert response is not None
        if isinstance(exc, ApiError) and not exc.in_ledger:
            record_refusal(request.app.state.rh, request.scope, exc.status, exc.code)
        return response

    for kind in (ApiError, RoutingError, BackendError, QueueFull):
        app.add_exception_handler(kind, _known)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        if exc.status_code in (404, 405):
            record_refusal(request.app.state.rh, request.scope, exc.status_code, "no_such_endpoint")
        return error_response(
            request.url.path, exc.status_code, message, headers=getattr(exc, "headers", None)
        )
