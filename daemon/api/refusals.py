"""Ledger rows for the requests the API refuses before the gateway sees them (a body that does
not validate, an unknown endpoint, a bad parameter): the ledger holds every request to the
model endpoints, answered or not. Rows go through the store's one writer, like every other."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.api.common import request_meta
from roundhouse.daemon.gateway import Outcome
from roundhouse.daemon.models import ChatRequest, Dialect

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

# The model endpoints, named as the gateway names their rows.
ENDPOINTS = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completion",
    "/v1/embeddings": "embeddings",
    "/v1/messages": "chat",
    "/v1/responses": "chat",
    "/api/chat": "chat",
    "/api/generate": "generate",
    "/api/embed": "embed",
    "/api/embeddings": "embeddings",
}
DIALECT_PREFIXES = ("/v1/", "/api/")


def record_refusal(
    daemon: Daemon | None, scope: Any, status: int, kind: str | None, model: Any = None
) -> None:
    path: str = scope.get("path", "")
    if daemon is None or not path.startswith(DIALECT_PREFIXES):
        return
    meta = request_meta(scope)
    dialect: Dialect = "ollama" if path.startswith("/api/") else "openai"
    if path.startswith("/v1/messages"):
        dialect = "anthropic"
    request = ChatRequest(
        model=model if isinstance(model, str) else "",
        dialect=dialect,
        app=meta["app"],
        chat_id=meta["chat_id"],
    )
    endpoint = ENDPOINTS.get(path) or path
    outcome = Outcome(status=status, error_kind=kind or "refused")
    daemon.gateway.record(request, None, outcome, time.perf_counter(), endpoint=endpoint)
