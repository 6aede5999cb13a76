"""The error answers every operation can give, added to each operation in /openapi.json.

They come from layers in front of the routes (the guard's size and rate limits, the dialect-shaped
validation errors, the not-ready 503) or from the routes' own checks, so the document declares them
once here rather than on each route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_ERROR_BODY: dict[str, Any] = {
    "description": "An error in the caller's dialect",
    "content": {"application/json": {"schema": {"type": "object"}}},
}

COMMON_ERRORS: dict[str, str] = {
    "400": "The request cannot be answered as given",
    "401": "A key is required or the one given is wrong",
    "403": "The request is refused (origin, host or privacy mode)",
    "404": "No such item, model or feature",
    "405": "The method is not allowed on this path",
    "409": "The request conflicts with the daemon's state",
    "413": "The body is larger than the daemon accepts",
    "415": "The body is not in a media type the operation reads",
    "422": "The body or parameters do not match the schema",
    "429": "Too many requests at once",
    "502": "The upstream answered with an error",
    "503": "The daemon or the upstream is not ready",
    "504": "The upstream did not answer in time",
}

# Operations whose 200 can come in another media type than JSON (a stream when asked, or a page).
_NDJSON = "application/x-ndjson"
_SSE = "text/event-stream"
_STREAMED: dict[str, str] = {
    "/api/chat": _NDJSON,
    "/api/generate": _NDJSON,
    "/api/pull": _NDJSON,
    "/api/push": _NDJSON,
    "/api/create": _NDJSON,
    "/control/v1/models/pull": _NDJSON,
    "/v1/chat/completions": _SSE,
    "/v1/completions": _SSE,
    "/v1/messages": _SSE,
    "/v1/responses": _SSE,
    "/control/v1/events": _SSE,
    "/metrics": "text/plain",
    "/dashboard": "text/html",
}


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that declares the common error answers on every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                    continue
                responses = operation.setdefault("responses", {})
                streamed = _STREAMED.get(path)
                if streamed and "200" in responses:
                    responses["200"].setdefault("content", {}).setdefault(streamed, {})
                for status, description in COMMON_ERRORS.items():
                    responses.setdefault(status, {**_ERROR_BODY, "description": description})
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
