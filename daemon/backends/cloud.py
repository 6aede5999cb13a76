"""Cloud providers through litellm, with keys read from the OS keyring.

`import litellm` takes seconds, so it happens on the first cloud call (in a worker thread),
never at start-up. Only providers with a stored key are offered. A request that arrived in
Anthropic's own dialect for an Anthropic model goes to Anthropic as it came, without litellm's
translation (see native_messages.py).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import re
import threading
from collections.abc import AsyncIterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from roundhouse.daemon.backends import native_messages
from roundhouse.daemon.backends.base import BackendError, parse_retry_after, short_message
from roundhouse.daemon.models import BackendHealth, ChatChunk, ChatRequest, LoadedModel, ModelInfo, Usage
from roundhouse.daemon.secrets import PROVIDERS, Secrets

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

_litellm: ModuleType | None = None
_import_lock = threading.Lock()
_KEYISH = re.compile(r"\b(sk|pk|gsk|xai|AIza)[-_A-Za-z0-9]{8,}")


def load_litellm_sync() -> ModuleType:
    global _litellm
    with _import_lock:
        if _litellm is None:
            # The price map ships inside the package; never fetch it at run time.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            module = importlib.import_module("litellm")
            module.telemetry = False
            module.suppress_debug_info = True
            _litellm = module
        return _litellm


async def load_litellm() -> ModuleType:
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(load_litellm_sync)


def scrub(message: str, secret: str | None) -> str:
    """Remove a key (and anything shaped like one) from a provider's error text."""
    if secret:
        message = message.replace(secret, "[key]")
    return _KEYISH.sub("[key]", message)


class CloudBackend:
    local = False
    controls_residency = False

    def __init__(
        self,
        secrets: Secrets,
        models: dict[str, list[str]],
        *,
        api_base: dict[str, str] | None = None,
        timeout_s: float = 120.0,
        name: str = "cloud",
    ) -> None:
        self.name = name
        self._secrets = secrets
        self._models = models
        self._api_base = api_base or {}
        self._timeout = timeout_s
        self._client: httpx.AsyncClient | None = None  # for the providers called natively

    def providers(self) -> list[str]:
        stored = set(self._secrets.names())
        return [p for p in PROVIDERS if p in stored and p in self._models]

    async def list_models(self) -> list[ModelInfo]:
        providers = await asyncio.to_thread(self.providers)
        return [
            ModelInfo(
                id=f"{provider}/{model}",
                backend=self.name,
                native=f"{provider}/{model}",
                local=False,
                family=provider,
                supports_tools=True,
                context_length=128_000,
            )
            for provider in providers
            for model in self._models.get(provider, [])
        ]

    @staticmethod
    def _provider(model: ModelInfo) -> str:
        return model.native.split("/", 1)[0]

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    def _call_args(self, model: ModelInfo) -> tuple[dict[str, Any], str | None]:
        provider = self._provider(model)
        key = self._secrets.get(provider)
        if not key:
            raise BackendError(
                f"no API key stored for {provider}: run `roundhoused keys set {provider}`",
                status=401,
                kind="missing_key",
            )
        args: dict[str, Any] = {"model": model.native, "api_key": key, "timeout": self._timeout}
        if provider in self._api_base:
            args["api_base"] = self._api_base[provider]
        return args, key

    def _error(self, exc: Exception, key: str | None) -> BackendError:
        status = int(getattr(exc, "status_code", 0) or 502)
        retryable = status == 429 or status >= 500 or "timeout" in type(exc).__name__.lower()
        kind = "rate_limited" if status == 429 else type(exc).__name__
        headers = getattr(getattr(exc, "response", None), "headers", None)
        retry_after = parse_retry_after(headers.get("retry-after")) if headers is not None else None
        said = short_message(scrub(str(exc), key)) or f"answered {status}"
        return BackendError(
            f"{self.name}: {said}", status=status, retryable=retryable, kind=kind, retry_after=retry_after
        )

    async def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        native = request.native
        if native is not None and native_messages.speaks(self._provider(model), native, request):
            _, key = await asyncio.to_thread(self._call_args, model)
            call = native_messages.NativeCall(
                url=native_messages.messages_url(self._api_base.get("anthropic")),
                key=key or "",
                body=native_messages.body_for(native, model, request),
                headers=native.headers,
                timeout_s=self._timeout,
            )
            clean = functools.partial(scrub, secret=key)
            async for chunk in native_messages.answer(self._http(), call, self.name, clean):
                yield chunk
            return
        litellm = await load_litellm()
        args, key = await asyncio.to_thread(self._call_args, model)
        args.update(request.sampling())
        try:
            if request.kind == "completion":
                prompt = (
                    (request.prompt or "")
                    if request.suffix is None
                    else f"{request.prompt}<FILL>{request.suffix}"
                )
                messages = [{"role": "user", "content": prompt}]
            else:
                messages = request.messages
            # Any `tools` send litellm 1.106 down its MCP-gateway check, which imports the optional
            # `mcp` package and fails without it; our tools are plain functions, never MCP servers.
            stream = await litellm.acompletion(
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                _skip_mcp_handler=True,
                **args,
            )
            async for part in stream:
                data = part.model_dump() if hasattr(part, "model_dump") else dict(part)
                chunk = ChatChunk()
                choices = data.get("choices") or []
                if choices:
                    delta = choices[0].get("delta") or {}
                    chunk.content = delta.get("content") or ""
                    if delta.get("tool_calls"):
                        chunk.tool_calls = delta["tool_calls"]
                    chunk.finish_reason = choices[0].get("finish_reason")
                usage = data.get("usage")
                if usage:
                    chunk.usage = Usage(
                        int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
                    )
                if chunk.content or chunk.tool_calls or chunk.finish_reason or chunk.usage:
                    yield chunk
        except BackendError:
            raise
        except Exception as exc:
            raise self._error(exc, key) from None

    async def embed(self, model: ModelInfo, inputs: list[str]) -> list[list[float]]:
        litellm = await load_litellm()
        args, key = await asyncio.to_thread(self._call_args, model)
        args.pop("timeout", None)
        try:
            response = await litellm.aembedding(input=inputs, **args)
        except Exception as exc:
            raise self._error(exc, key) from None
        return [item["embedding"] for item in response.data]

    async def health(self) -> BackendHealth:
        providers = await asyncio.to_thread(self.providers)
        if not providers:
            return BackendHealth(ok=True, detail="no cloud keys stored")
        return BackendHealth(ok=True, detail="keys for " + ", ".join(providers))

    async def loaded(self) -> list[LoadedModel]:
        return []

    async def load(self, model: ModelInfo, keep_alive: str | float | None = None) -> None:
        return None

    async def unload(self, model: ModelInfo) -> None:
        return None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def create(daemon: Daemon) -> list[CloudBackend]:
    settings = daemon.settings.cloud
    return [
        CloudBackend(
            daemon.secrets, settings.models, api_base=settings.api_base, timeout_s=settings.timeout_s
        )
    ]
