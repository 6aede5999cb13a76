"""Anthropic's Messages API called natively: a request that arrived as Anthropic Messages goes to
Anthropic with the client's own body and headers, and Anthropic's events come back as they are.

Each event rides on a ChatChunk (`native`), which also carries what the gateway reads: the text,
tool call pieces, the finish reason and the usage (from `message_start` and `message_delta`), so
routing, budgets, the cache and the ledger work as for any other answer.

The call is plain HTTP: litellm 1.106's Anthropic messages interface imports its proxy server's
optional dependencies, and a pass-through needs no translation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from roundhouse.daemon.backends.base import BackendError, parse_retry_after, short_message
from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo, NativeBody, Usage

DEFAULT_BASE = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


@dataclass(frozen=True, slots=True)
class NativeCall:
    url: str
    key: str
    body: dict[str, Any]
    headers: dict[str, str]
    timeout_s: float


def speaks(provider: str, native: NativeBody, request: ChatRequest) -> bool:
    """Whether this request goes natively: an Anthropic body for Anthropic, still saying what
    the gateway means to send (no memories added, nothing masked since the edge)."""
    return provider == "anthropic" and native.dialect == "anthropic" and native.still_matches(request)


def messages_url(api_base: str | None) -> str:
    base = (api_base or DEFAULT_BASE).rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


def body_for(native: NativeBody, model: ModelInfo, request: ChatRequest) -> dict[str, Any]:
    """The client's body with the provider's own model name and the gateway's max_tokens."""
    body = dict(native.body)
    body["model"] = model.native.split("/", 1)[1] if "/" in model.native else model.native
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    body["stream"] = request.stream
    return body


def _headers(call: NativeCall) -> dict[str, str]:
    headers = {
        "x-api-key": call.key,
        "content-type": "application/json",
        "anthropic-version": call.headers.get("anthropic-version") or DEFAULT_VERSION,
    }
    if call.headers.get("anthropic-beta"):
        headers["anthropic-beta"] = call.headers["anthropic-beta"]
    return headers


async def answer(
    client: httpx.AsyncClient, call: NativeCall, name: str, clean: Callable[[str], str]
) -> AsyncIterator[ChatChunk]:
    """The answer's chunks, each with its Anthropic event (or, not streamed, the whole Message).
    `clean` takes keys out of a provider's error text."""
    request = client.build_request(
        "POST",
        call.url,
        json=call.body,
        headers=_headers(call),
        timeout=httpx.Timeout(call.timeout_s, connect=10.0),
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise _transport_error(exc, name) from None
    try:
        if response.status_code >= 400:
            raise await _status_error(response, name, clean)
        if not call.body.get("stream"):
            yield _whole(json.loads(await response.aread()))
            return
        events = _Events()
        async for data in _sse_data(response):
            yield events.chunk(json.loads(data), name, clean)
    except httpx.HTTPError as exc:
        raise _transport_error(exc, name) from None
    except ValueError:
        raise BackendError(f"{name}: Anthropic sent something that is not JSON", status=502) from None
    finally:
        await response.aclose()


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            yield "\n".join(data)
            data = []
    if data:
        yield "\n".join(data)


def _usage(usage: dict[str, Any], input_total: int | None = None) -> Usage:
    """Input counts what was cached or written to the cache too: what the prompt was."""
    prompt = input_total
    if prompt is None or "input_tokens" in usage:
        prompt = sum(
            int(usage.get(name) or 0)
            for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
    return Usage(prompt, int(usage.get("output_tokens") or 0))


def _whole(message: dict[str, Any]) -> ChatChunk:
    text = "".join(b.get("text", "") for b in message.get("content") or () if b.get("type") == "text")
    calls = [
        {
            "index": i,
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for i, b in enumerate(message.get("content") or ())
        if b.get("type") == "tool_use"
    ]
    return ChatChunk(
        content=text,
        tool_calls=calls or None,
        finish_reason=FINISH_REASONS.get(message.get("stop_reason") or "end_turn", "stop"),
        usage=_usage(message.get("usage") or {}),
        native=message,
    )


class _Events:
    """One streamed answer's events, read for what the gateway needs."""

    def __init__(self) -> None:
        self.input_total: int | None = None

    def chunk(self, event: dict[str, Any], name: str, clean: Callable[[str], str]) -> ChatChunk:
        kind = event.get("type")
        chunk = ChatChunk(native=event)
        if kind == "message_start":
            chunk.usage = _usage((event.get("message") or {}).get("usage") or {})
            self.input_total = chunk.usage.prompt_tokens
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                head = {"index": event.get("index"), "id": block.get("id"), "type": "function"}
                chunk.tool_calls = [{**head, "function": {"name": block.get("name"), "arguments": ""}}]
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                chunk.content = delta.get("text") or ""
            elif delta.get("type") == "input_json_delta":
                piece = {"arguments": delta.get("partial_json") or ""}
                chunk.tool_calls = [{"index": event.get("index"), "function": piece}]
        elif kind == "message_delta":
            stop = (event.get("delta") or {}).get("stop_reason") or "end_turn"
            chunk.finish_reason = FINISH_REASONS.get(stop, "stop")
            chunk.usage = _usage(event.get("usage") or {}, self.input_total)
        elif kind == "error":
            error = event.get("error") or {}
            status = _ERROR_STATUS.get(str(error.get("type")), 502)
            said = short_message(clean(str(error.get("message") or ""))) or f"answered {status}"
            raise BackendError(
                f"{name}: {said}", status=status, retryable=status in (429, 529) or status >= 500
            )
        return chunk


async def _status_error(response: httpx.Response, name: str, clean: Callable[[str], str]) -> BackendError:
    status = response.status_code
    raw = await response.aread()
    try:
        said = str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        said = raw.decode("utf-8", "replace")
    said = short_message(clean(said)) or f"answered {status}"
    return BackendError(
        f"{name}: {said}",
        status=status,
        retryable=status == 429 or status >= 500,
        kind="rate_limited" if status == 429 else "provider_error",
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _transport_error(exc: httpx.HTTPError, name: str) -> BackendError:
    timeout = isinstance(exc, httpx.TimeoutException)
    return BackendError(
        f"{name}: Anthropic {'did not answer in time' if timeout else 'could not be reached'}",
        status=504 if timeout else 502,
        retryable=True,
        kind="timeout" if timeout else "unreachable",
    )
