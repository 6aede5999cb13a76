"""Ollama hosts, through the official `ollama` AsyncClient."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import ollama

from roundhouse.daemon.backends.base import BackendError, ModelNotFound, short_message
from roundhouse.daemon.backends.capabilities import refuse_unsupported
from roundhouse.daemon.dialects import ollama as ollama_dialect
from roundhouse.daemon.models import (
    BackendHealth,
    ChatChunk,
    ChatRequest,
    LoadedModel,
    ModelInfo,
    Usage,
)

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)


class OllamaBackend:
    local = True
    controls_residency = True

    def __init__(
        self,
        name: str,
        host: str,
        *,
        timeout_s: float = 300.0,
        local: bool = True,
        api_key: str | None = None,
    ) -> None:
        self.name = name
        self.host = host.rstrip("/")
        # A host off the user's own network (`local = false`): private requests never go there.
        self.local = local
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.AsyncClient(
            host=self.host, timeout=httpx.Timeout(timeout_s, connect=5.0), headers=headers
        )
        self._models_cache: tuple[float, list[ModelInfo]] | None = None

    def _error(self, exc: Exception, model: str | None = None) -> BackendError:
        if isinstance(exc, ollama.ResponseError):
            status = exc.status_code if exc.status_code > 0 else 502
            if status == 404 and model:
                return ModelNotFound(model)
            retryable = status == 429 or status >= 500
            said = short_message(str(exc.error))
            return BackendError(
                f"{self.name} answered {status}" + (f": {said}" if said else ""),
                status=status,
                retryable=retryable,
            )
        if isinstance(exc, httpx.TimeoutException):
            return BackendError(f"{self.name}: timed out", status=504, retryable=True, kind="timeout")
        if isinstance(exc, (ConnectionError, httpx.HTTPError)):
            return BackendError(
                f"{self.name}: cannot reach {self.host}", status=502, retryable=True, kind="unreachable"
            )
        return BackendError(f"{self.name}: {exc}", status=502)

    def model_id(self, native: str) -> str:
        return f"{self.name}/{native}"

    async def list_models(self) -> list[ModelInfo]:
        if self._models_cache and time.monotonic() - self._models_cache[0] < 5:
            return self._models_cache[1]
        try:
            listing = await self._client.list()
        except Exception as exc:
            raise self._error(exc) from exc
        models = []
        for item in listing.models:
            details = item.details
            family = (details.family if details else "") or ""
            is_embedding = "bert" in family or "embed" in (item.model or "")
            models.append(
                ModelInfo(
                    id=self.model_id(item.model or ""),
                    backend=self.name,
                    native=item.model or "",
                    local=self.local,
                    kind="embedding" if is_embedding else "chat",
                    family=family,
                    parameter_size=(details.parameter_size if details else "") or "",
                    quantization=(details.quantization_level if details else "") or "",
                    size_bytes=int(item.size or 0),
                    supports_tools=not is_embedding,
                )
            )
        self._models_cache = (time.monotonic(), models)
        return models

    async def show(self, native: str) -> dict[str, Any]:
        """The raw /api/show answer (model_info with layer and head counts, for estimates)."""
        try:
            response = await self._client.show(native)
        except Exception as exc:
            raise self._error(exc, native) from exc
        return response.model_dump(mode="json", by_alias=True)

    async def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        # Ollama has no tool_choice: it may call a tool or not, never on demand.
        refuse_unsupported(request, model, reads_images=True, forces_tools=False)
        fmt = ollama_dialect.ollama_format(request.response_format)
        # Ollama sends no call ids; numbered over the whole stream, they are unique in the answer.
        call_ids = ollama_dialect.ToolCallIds(request.request_id[3:])
        try:
            if request.kind == "completion":
                stream = await self._client.generate(
                    model=model.native,
                    prompt=request.prompt or "",
                    suffix=request.suffix,
                    stream=True,
                    options=ollama_dialect.runner_options(request),
                    keep_alive=request.keep_alive,
                    format=fmt,
                )
            else:
                stream = await self._client.chat(
                    model=model.native,
                    messages=ollama_dialect.ollama_messages(request.messages),
                    tools=request.tools or None,
                    stream=True,
                    options=ollama_dialect.runner_options(request),
                    keep_alive=request.keep_alive,
                    format=fmt,
                )
            async for part in stream:
                chunk = ChatChunk()
                if request.kind == "completion":
                    chunk.content = part.response or ""
                else:
                    message = part.message
                    chunk.content = (message.content or "") if message else ""
                    if message is not None and message.tool_calls:
                        chunk.tool_calls = call_ids.chat_tool_calls(list(message.tool_calls))
                if part.done:
                    reason = part.done_reason or "stop"
                    chunk.finish_reason = (
                        "length" if reason == "length" else ("tool_calls" if chunk.tool_calls else "stop")
                    )
                    chunk.usage = Usage(int(part.prompt_eval_count or 0), int(part.eval_count or 0))
                yield chunk
        except BackendError:
            raise
        except Exception as exc:
            raise self._error(exc, model.native) from exc

    async def embed(self, model: ModelInfo, inputs: list[str]) -> list[list[float]]:
        try:
            response = await self._client.embed(model=model.native, input=inputs)
        except Exception as exc:
            raise self._error(exc, model.native) from exc
        return [list(vector) for vector in response.embeddings]

    async def health(self) -> BackendHealth:
        started = time.perf_counter()
        try:
            response = await self._client._request_raw("GET", "/api/version")
            version = response.json().get("version", "?")
        except Exception as exc:
            return BackendHealth(ok=False, detail=str(self._error(exc)))
        return BackendHealth(
            ok=True,
            detail=f"Ollama {version} at {self.host}",
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def loaded(self) -> list[LoadedModel]:
        try:
            response = await self._client.ps()
        except Exception as exc:
            raise self._error(exc) from exc
        return [
            LoadedModel(
                id=self.model_id(item.model or ""),
                backend=self.name,
                native=item.model or "",
                size_bytes=int(item.size or 0),
                size_vram=int(item.size_vram or 0),
                expires_at=item.expires_at.isoformat() if item.expires_at else None,
                context_length=int(getattr(item, "context_length", 0) or 0),
            )
            for item in response.models
        ]

    async def load(
        self, model: ModelInfo, keep_alive: str | float | None = None, options: dict[str, Any] | None = None
    ) -> None:
        """Ollama loads a model on a generate request with no prompt. The runner options
        (num_ctx...) must match later requests' or Ollama reloads the model."""
        try:
            await self._client.generate(model=model.native, keep_alive=keep_alive, options=options or None)
        except Exception as exc:
            raise self._error(exc, model.native) from exc

    async def unload(self, model: ModelInfo) -> None:
        try:
            await self._client.generate(model=model.native, keep_alive=0)
        except Exception as exc:
            raise self._error(exc, model.native) from exc

    async def pull(self, native: str) -> AsyncIterator[dict[str, Any]]:
        """Pull a model onto the host: Ollama's progress objects {status, digest, total, completed}.
        Closing the iterator early closes the upstream stream, which stops the pull."""
        stream: Any = None
        try:
            stream = await self._client.pull(native, stream=True)
            async for part in stream:
                if part.status == "success":
                    self._models_cache = None  # the next listing shows the new model
                yield {k: v for k, v in part.model_dump(mode="json").items() if v is not None}
        except Exception as exc:
            raise self._error(exc, native) from exc
        finally:
            # Close the HTTP stream now, not when the generator is collected.
            if stream is not None:
                await stream.aclose()

    async def create(self, native: str, fields: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Create a model on the host (Ollama's /api/create fields); progress as {status}."""
        stream: Any = None
        try:
            stream = await self._client.create(native, stream=True, **fields)
            async for part in stream:
                if part.status == "success":
                    self._models_cache = None  # the next listing shows the new model
                yield {k: v for k, v in part.model_dump(mode="json").items() if v is not None}
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            if stream is not None:
                await stream.aclose()

    async def push(self, native: str, insecure: bool = False) -> AsyncIterator[dict[str, Any]]:
        stream: Any = None
        try:
            stream = await self._client.push(native, insecure=insecure, stream=True)
            async for part in stream:
                yield {k: v for k, v in part.model_dump(mode="json").items() if v is not None}
        except Exception as exc:
            raise self._error(exc, native) from exc
        finally:
            if stream is not None:
                await stream.aclose()

    async def copy(self, source: str, destination: str) -> None:
        try:
            await self._client.copy(source, destination)
        except Exception as exc:
            raise self._error(exc, source) from exc
        self._models_cache = None

    async def delete(self, native: str) -> None:
        try:
            await self._client.delete(native)
        except Exception as exc:
            raise self._error(exc, native) from exc
        self._models_cache = None

    async def close(self) -> None:
        await self._client._client.aclose()


async def _answers(host: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=0.5) as client:
            response = await client.get(f"{host}/api/version")
        return response.status_code == 200
    except httpx.HTTPError:
        return False


async def discover(daemon: Daemon) -> list[OllamaBackend]:
    """Configured hosts, plus a local server on 127.0.0.1:11434 when one answers."""
    settings = daemon.settings.ollama
    hosts = list(dict.fromkeys(h.rstrip("/") for h in settings.hosts))
    local = settings.local_url.rstrip("/")
    if settings.discover_local and local not in hosts and await _answers(local):
        log.info("ollama: found a local server at %s", local)
        hosts.insert(0, local)
    return [
        OllamaBackend("ollama" if i == 0 else f"ollama-{i + 1}", host, timeout_s=settings.timeout_s)
        for i, host in enumerate(hosts)
    ]


create = discover
