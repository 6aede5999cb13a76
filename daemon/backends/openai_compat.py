"""Any OpenAI-compatible server: LM Studio, llama.cpp server, vLLM, Ray Serve, another gateway."""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json, to_json

from roundhouse.daemon.backends.base import BackendError, parse_retry_after, short_message
from roundhouse.daemon.backends.http1 import HTTP1Client, UpstreamError
from roundhouse.daemon.models import BackendHealth, ChatChunk, ChatRequest, LoadedModel, ModelInfo, Usage

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def request_body(request: ChatRequest, native_model: str) -> dict[str, Any]:
    """The OpenAI wire body for a request (shared with the cloud backend's tests and the bench)."""
    body: dict[str, Any] = {"model": native_model, "stream": request.stream}
    if request.kind == "completion":
        body["prompt"] = request.prompt or ""
        if request.suffix is not None:
            body["suffix"] = request.suffix
    else:
        body["messages"] = [_outgoing_message(message) for message in request.messages]
    body.update(request.sampling())
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _outgoing_message(message: dict[str, Any]) -> dict[str, Any]:
    """An assistant turn that only calls tools carries `"content": ""`: llama.cpp's chat templates
    read `message.content` and fail on a turn without one (and its server refuses null), while
    OpenAI and the other servers take the empty string too. Arguments go as a JSON string."""
    calls = message.get("tool_calls")
    if message.get("role") != "assistant" or not calls:
        return message
    out = dict(message)
    if out.get("content") is None:
        out["content"] = ""
    if any(isinstance((call.get("function") or {}).get("arguments"), dict) for call in calls):
        out["tool_calls"] = [_string_arguments(call) for call in calls]
    return out


def _string_arguments(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, dict):
        return call
    return {**call, "function": {**function, "arguments": json.dumps(arguments, ensure_ascii=False)}}


# One entry of a pydantic validation error as a Python-based server (llama-cpp-python's) prints it.
_BODY_ERROR = re.compile(r"'loc': (\('body'[^)]*\)), 'msg': ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def _body_validation_message(message: str) -> str:
    """`field: problem` from a server that reports a body it could not validate as a 500 (with
    its traceback): that is the caller's request being refused, not the server failing."""
    if "validation error" not in message:
        return ""
    for loc, msg in _BODY_ERROR.findall(message):
        try:
            parts = ast.literal_eval(loc)
            text = ast.literal_eval(msg)
        except (ValueError, SyntaxError):
            continue
        field = ".".join(str(p) for p in parts[1:] if not (isinstance(p, str) and p[:1].isupper()))
        return f"{field}: {text}"
    return ""


def error_from_response(status: int, text: str, where: str, retry_after: bytes | None = None) -> BackendError:
    """The upstream's error as ours: its own short message when it sent one in OpenAI's error
    shape, never its body otherwise (an HTML page, a traceback)."""
    message = ""
    try:
        payload = json.loads(text)
        err = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(err, dict):
            message = str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
    except ValueError:
        pass
    refused = _body_validation_message(message) if status >= 500 else ""
    if refused:
        status, message = 400, refused
    retryable = status == 429 or status >= 500
    kind = "rate_limited" if status == 429 else ("upstream_error" if status >= 500 else "upstream_rejected")
    short = short_message(message)
    said = f"upstream {where} answered {status}" + (f": {short}" if short else "")
    if refused:
        said = f"upstream {where} refused the request: {short}"
    return BackendError(
        said, status=status, retryable=retryable, kind=kind, retry_after=parse_retry_after(retry_after)
    )


def malformed(where: str, what: str) -> BackendError:
    """An answer that is not what the OpenAI API sends counts as the upstream failing."""
    return BackendError(
        f"upstream {where} sent {what}", status=502, retryable=True, kind="bad_upstream_answer"
    )


def chunk_from_openai(payload: dict[str, Any], kind: str) -> ChatChunk:
    chunk = ChatChunk()
    choices = payload.get("choices") or []
    if choices:
        choice = choices[0]
        if kind == "completion":
            chunk.content = choice.get("text") or ""
        else:
            delta = choice.get("delta") or choice.get("message") or {}
            chunk.content = delta.get("content") or ""
            if delta.get("tool_calls"):
                chunk.tool_calls = delta["tool_calls"]
        chunk.finish_reason = choice.get("finish_reason")
    usage = payload.get("usage")
    if usage:
        chunk.usage = Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    return chunk


class OpenAICompatBackend:
    controls_residency = False

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str | None = None,
        local: bool = True,
        timeout_s: float = 300.0,
    ) -> None:
        self.name = name
        self.local = local
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = HTTP1Client(self.base_url, headers=headers, read_timeout=timeout_s)
        self._models_cache: tuple[float, list[ModelInfo]] | None = None

    def _unreachable(self, exc: UpstreamError) -> BackendError:
        if exc.timeout:
            return BackendError(f"{self.name}: timed out", status=504, retryable=True, kind="timeout")
        return BackendError(f"{self.name}: {exc}", status=502, retryable=True, kind="unreachable")

    async def list_models(self) -> list[ModelInfo]:
        if self._models_cache and time.monotonic() - self._models_cache[0] < 10:
            return self._models_cache[1]
        try:
            async with self._http.get("/models", read_timeout=10.0) as response:
                text = await response.text()
                status = response.status
        except UpstreamError as exc:
            raise BackendError(f"{self.name}: cannot list models: {exc}", retryable=True, status=502) from exc
        if status != 200:
            raise error_from_response(status, text, self.name)
        models = [
            ModelInfo(
                id=f"{self.name}/{item['id']}",
                backend=self.name,
                native=item["id"],
                local=self.local,
                supports_tools=True,
            )
            for item in json.loads(text).get("data", [])
        ]
        self._models_cache = (time.monotonic(), models)
        return models

    async def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        path = "/completions" if request.kind == "completion" else "/chat/completions"
        body = to_json(request_body(request, model.native))
        try:
            async with self._http.post(path, body) as response:
                if response.status != 200:
                    text = await response.text()
                    raise error_from_response(response.status, text, self.name, response.retry_after)
                if not request.stream:
                    try:
                        payload = from_json(await response.read())
                    except ValueError:
                        raise malformed(self.name, "an answer that is not JSON") from None
                    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
                        raise malformed(self.name, "JSON that is not a completion")
                    chunk = chunk_from_openai(payload, request.kind)
                    chunk.finish_reason = chunk.finish_reason or "stop"
                    yield chunk
                    return
                events = 0
                ended = False
                # Closed here rather than left to the loop's finalizer, which would cost every
                # stream a task and a wake-up of its own when `[DONE]` ends the loop early.
                async with aclosing(response.lines()) as lines:
                    async for raw in lines:
                        line = raw.strip()
                        if not line.startswith(b"data:"):
                            continue
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            ended = True
                            break
                        try:
                            payload = from_json(data)
                        except ValueError:
                            payload = None
                        if not isinstance(payload, dict):
                            raise malformed(self.name, "a stream event that is not a JSON object")
                        events += 1
                        chunk = chunk_from_openai(payload, request.kind)
                        ended = ended or chunk.finish_reason is not None
                        yield chunk
                if not events:
                    raise malformed(self.name, "a stream with no answer in it")
                if not ended:
                    # A response that closed before `[DONE]` or a finish reason was cut short:
                    # ending it quietly would hand the client half an answer as a whole one.
                    raise UpstreamError("upstream stream ended before the answer did")
        except UpstreamError as exc:
            raise self._unreachable(exc) from exc

    async def embed(self, model: ModelInfo, inputs: list[str]) -> list[list[float]]:
        body = to_json({"model": model.native, "input": inputs})
        try:
            async with self._http.post("/embeddings", body) as response:
                text = await response.text()
                status = response.status
        except UpstreamError as exc:
            raise self._unreachable(exc) from exc
        if status != 200:
            raise error_from_response(status, text, self.name)
        data = sorted(from_json(text)["data"], key=lambda item: item.get("index", 0))
        return [item["embedding"] for item in data]

    async def health(self) -> BackendHealth:
        started = time.perf_counter()
        try:
            async with self._http.get("/models", read_timeout=3.0) as response:
                status = response.status
                await response.read()
        except UpstreamError as exc:
            return BackendHealth(ok=False, detail=f"unreachable: {exc}")
        latency = (time.perf_counter() - started) * 1000
        if status != 200:
            return BackendHealth(ok=False, detail=f"HTTP {status}", latency_ms=latency)
        return BackendHealth(ok=True, detail=self.base_url, latency_ms=latency)

    async def loaded(self) -> list[LoadedModel]:
        return []

    async def load(self, model: ModelInfo, keep_alive: str | float | None = None) -> None:
        return None

    async def unload(self, model: ModelInfo) -> None:
        return None

    async def close(self) -> None:
        await self._http.close()


def create(daemon: Daemon) -> list[OpenAICompatBackend]:
    backends = []
    for endpoint in daemon.settings.openai_compat:
        key = daemon.secrets.get(endpoint.key_name) if endpoint.key_name else None
        backends.append(
            OpenAICompatBackend(endpoint.name, endpoint.base_url, api_key=key, local=endpoint.local)
        )
    return backends
