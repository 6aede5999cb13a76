"""The one protocol every backend speaks, and the errors they raise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, runtime_checkable

from roundhouse.daemon.models import BackendHealth, ChatChunk, ChatRequest, LoadedModel, ModelInfo


class BackendError(Exception):
    """A backend failed. `status` mirrors the upstream HTTP status where there is one.

    `retryable` is true for 429, 5xx, timeouts and connection errors: the router may retry
    or fall back. A 4xx other than 429 means the request itself is wrong for this backend.
    `retry_after` is the upstream's Retry-After in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        retryable: bool = False,
        kind: str = "backend_error",
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.kind = kind
        self.retry_after = retry_after


class ModelNotFound(BackendError):
    def __init__(self, model: str):
        super().__init__(f"model '{model}' not found", status=404, kind="model_not_found")
        self.model = model


@runtime_checkable
class Backend(Protocol):
    """A place models run: the embedded llama.cpp, an Ollama host, an OpenAI-compatible URL,
    or a cloud provider through litellm."""

    name: str  # unique per daemon, e.g. "embedded", "ollama", "ollama-2", "openai-compat", "cloud"
    local: bool  # runs on this machine / the user's own hosts (privacy-safe)
    # Whether load / unload / loaded() really control what sits in memory (embedded, Ollama);
    # an OpenAI-compatible server or a cloud manages its own.
    controls_residency: bool

    async def list_models(self) -> list[ModelInfo]: ...

    def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        """Stream the answer. Chat and text completion (request.kind) both come here."""
        ...

    async def embed(self, model: ModelInfo, inputs: list[str]) -> list[list[float]]: ...

    async def health(self) -> BackendHealth: ...

    async def loaded(self) -> list[LoadedModel]: ...

    async def load(self, model: ModelInfo, keep_alive: str | float | None = None) -> None: ...

    async def unload(self, model: ModelInfo) -> None: ...

    async def close(self) -> None: ...


def parse_retry_after(value: str | bytes | None) -> float | None:
    """An HTTP Retry-After value (seconds, or an HTTP date) as seconds from now; None if absent
    or unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def short_message(message: str) -> str:
    """The first line of an upstream's error message, trimmed; nothing when it is a traceback."""
    first = message.strip().split("\n", 1)[0].strip()
    if first.startswith("Traceback") or 'File "' in first:
        return ""
    return first[:200]
