"""Errors in the caller's dialect: OpenAI's error object, Ollama's {"error": ...}."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import QueueFull
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
    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers: dict[str, str] = {}


def dialect_of(path: str) -> str:
    if path.startswith("/api/"):
        return "ollama"
    return "openai"


def error_body(
    dialect: str, status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    if dialect == "ollama":
        return {"error": message}
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


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request body", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
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
        return error_response(path, status, str(exc), code=exc.kind)
    if isinstance(exc, QueueFull):
        retry = str(max(1, round(exc.retry_after)))
        return error_response(path, 503, str(exc), code="queue_full", headers={"Retry-After": retry})
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(request.url.path, 400, message, code="invalid_request", param=param)

    async def _known(request: Request, exc: Exception) -> JSONResponse:
        response = exception_response(request.url.path, exc)
        assert response is not None
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
        return error_response(
            request.url.path, exc.status_code, message, headers=getattr(exc, "headers", None)
        )
