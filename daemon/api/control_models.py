"""Control API of models: pull a model onto an Ollama host, with progress as NDJSON lines."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from roundhouse.daemon.api.common import daemon_of, first_and_rest
from roundhouse.daemon.api.errors import error_body
from roundhouse.daemon.backends.base import BackendError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/control/v1/models", tags=["Control"])


class PullRequest(BaseModel):
    model: str = Field(
        min_length=1, max_length=300, description="The name on the Ollama host, e.g. llama3.2:1b"
    )
    backend: str = Field(default="ollama", min_length=1, max_length=100, description="Which Ollama backend")


class ClosingStreamingResponse(StreamingResponse):
    """Closes its body when the response ends for any reason, the client leaving included, so
    that what the body holds open upstream is released at once rather than when collected."""

    def __init__(self, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._content.aclose()  # type: ignore[attr-defined]


def _pull_error(exc: BackendError, model: str) -> HTTPException:
    # Ollama answers 500 for a name its registry does not have: that is the caller's mistake.
    if "does not exist" in str(exc) or exc.status == 404:
        return HTTPException(status_code=404, detail=f"no model '{model}' to pull: {exc}")
    status = exc.status if 400 <= exc.status < 500 or exc.status == 504 else 502
    return HTTPException(status_code=status, detail=str(exc))


def _line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data) + "\n").encode()


@router.post(
    "/pull",
    summary="Pull a model onto an Ollama host; NDJSON progress {status, digest, total, completed}",
)
async def pull(request: Request, body: PullRequest) -> StreamingResponse:
    daemon = daemon_of(request)
    backend = daemon.catalog.backends.get(body.backend)
    if backend is None or not callable(getattr(backend, "pull", None)):
        raise HTTPException(status_code=404, detail=f"no Ollama backend named '{body.backend}'")
    upstream: AsyncIterator[dict[str, Any]] = backend.pull(body.model)  # type: ignore[attr-defined]
    # A failure before any progress (unknown model, host down) gets its own HTTP status.
    try:
        first, rest = await first_and_rest(upstream)
    except BackendError as exc:
        raise _pull_error(exc, body.model) from None
    log.info("pulling %s onto %s", body.model, body.backend)

    async def progress() -> AsyncIterator[bytes]:
        try:
            part = first
            while part is not None:
                if part.get("status") == "success":
                    # Listed before the client hears "success", so /v1/models shows it at once.
                    await daemon.catalog.refresh(force=True)
                    daemon.events.publish("models.pulled", {"model": body.model, "backend": body.backend})
                yield _line(part)
                part = await anext(rest, None)
        except BackendError as exc:
            failure = _pull_error(exc, body.model)
            yield _line(error_body("openai", failure.status_code, str(failure.detail)))
        finally:
            with anyio.CancelScope(shield=True):
                await rest.aclose()  # type: ignore[attr-defined]

    return ClosingStreamingResponse(progress(), media_type="application/x-ndjson")
