"""The one protocol every backend speaks, and the errors they raise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from roundhouse.daemon.models import BackendHealth, ChatChunk, ChatRequest, LoadedModel, ModelInfo


class BackendError(Exception):
    """A backend failed. `status` mirrors the upstream HTTP status where there is one.

    `retryable` is true for 429, 5xx, timeouts and connection errors: the router may retry
    or fall back. A 4xx other than 429 means the request itself is wrong for this backend.
    """

    def __init__(
        self, message: str, *, status: int = 502, retryable: bool = False, kind: str = "backend_error"
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.kind = kind


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
