"""Ollama's chat and generate API: sampling options, messages, tool calls and formats, to and
from the internal model.

The internal messages are OpenAI-shaped (string or part-list content, `tool_calls` with ids and
JSON-string arguments, `tool` messages naming their call by `tool_call_id`); Ollama's carry
string content with `images` apart, tool calls without ids and with object arguments, and tool
results named by `tool_name`. Ollama's wire has no tool-call ids, so ids are made here, once:
`call_{owner}_{n}`, where `n` counts the calls of one answer (the owner is its request's id) or
of one request's history (the owner is "in"), so no two calls in a conversation share an id.
"""

from __future__ import annotations

import json
from typing import Any

from roundhouse.daemon.models import ChatRequest, content_text

# ChatRequest field -> Ollama runner option (the same generation setting on both sides).
OPTION_NAMES = {"temperature": "temperature", "top_p": "top_p", "seed": "seed", "max_tokens": "num_predict"}


# Sampling options


def sampling_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Ollama `options` (already checked) -> ChatRequest fields; the rest stay runner options."""
    options = dict(options)
    fields: dict[str, Any] = {}
    for ours, theirs in OPTION_NAMES.items():
        if theirs in options:
            fields[ours] = options.pop(theirs)
    if "max_tokens" in fields:
        wanted = fields["max_tokens"]
        # -1 (until the model stops), -2 (fill the context) and 0: as many as fit, see gateway.
        fields["max_tokens"] = wanted if wanted is not None and wanted > 0 else None
    if "stop" in options:
        fields["stop"] = options.pop("stop")
    fields["options"] = options
    return fields


def runner_options(request: ChatRequest) -> dict[str, Any]:
    """A ChatRequest's generation settings as Ollama `options` (explicit runner options win)."""
    options = dict(request.options)
    for ours, theirs in OPTION_NAMES.items():
        value = getattr(request, ours)
        if value is not None:
            options.setdefault(theirs, value)
    if request.stop:
        options.setdefault("stop", request.stop)
    return options


# Formats


def response_format(fmt: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Ollama `format` ("json" or a JSON schema) -> the OpenAI-shaped `response_format`."""
    if fmt == "json":
        return {"type": "json_object"}
    if isinstance(fmt, dict):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt}}
    return None


def ollama_format(response_format: dict[str, Any] | None) -> Any:
    """The OpenAI-shaped `response_format` -> Ollama `format`."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    return None


# Tool calls


def call_id(owner: str, number: int) -> str:
    return f"call_{owner}_{number}"


def _arguments_object(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            return {}
    return dict(arguments) if isinstance(arguments, dict) else {}


def ollama_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped tool calls -> Ollama's: no id, the arguments as an object."""
    result = []
    for call in calls:
        fn = call.get("function") or {}
        result.append(
            {"function": {"name": fn.get("name") or "", "arguments": _arguments_object(fn.get("arguments"))}}
        )
    return result


class ToolCallIds:
    """Numbers the tool calls of one answer (or request): Ollama sends each call whole, and
    may send them in separate stream lines, so the count runs over the whole stream."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.count = 0

    def chat_tool_calls(self, calls: list[Any]) -> list[dict[str, Any]]:
        """Ollama tool calls (dicts or the SDK's objects) -> OpenAI-shaped ones with fresh ids."""
        result = []
        for call in calls:
            fn = call["function"] if isinstance(call, dict) else call.function
            name = fn["name"] if isinstance(fn, dict) else fn.name
            arguments = fn.get("arguments") if isinstance(fn, dict) else fn.arguments
            result.append(
                {
                    "index": self.count,
                    "id": call_id(self.owner, self.count),
                    "type": "function",
                    "function": {
                        "name": name or "",
                        "arguments": json.dumps(_arguments_object(arguments)),
                    },
                }
            )
            self.count += 1
        return result


# Messages


def chat_messages(messages: list[dict[str, Any]], owner: str) -> list[dict[str, Any]]:
    """Ollama messages -> OpenAI-shaped ones. Each assistant tool call gets an id; a tool result
    takes the id of the earliest unanswered call of its `tool_name` (or of any, unnamed)."""
    ids = ToolCallIds(owner)
    unanswered: list[dict[str, Any]] = []
    converted: list[dict[str, Any]] = []
    for message in messages:
        text = message.get("content") or ""
        out: dict[str, Any] = {"role": message.get("role", "user"), "content": text}
        if message.get("images"):
            out["content"] = [{"type": "text", "text": text}] + [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}}
                for image in message["images"]
            ]
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {k: v for k, v in c.items() if k != "index"}
                for c in ids.chat_tool_calls(message["tool_calls"])
            ]
            unanswered = list(out["tool_calls"])
        if out["role"] == "tool":
            name = message.get("tool_name")
            answered = next((c for c in unanswered if not name or c["function"]["name"] == name), None)
            if answered is not None:
                unanswered.remove(answered)
            out["tool_call_id"] = answered["id"] if answered else (name or "tool")
            if name:
                out["name"] = name
        converted.append(out)
    return converted


def ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages -> Ollama's: string content, images apart, tool-call arguments as objects."""
    converted: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        out: dict[str, Any] = {"role": message.get("role", "user"), "content": content_text(content)}
        if isinstance(content, list):
            images = [
                part["image_url"]["url"].split(",", 1)[-1]
                for part in content
                if isinstance(part, dict) and part.get("type") == "image_url"
            ]
            if images:
                out["images"] = images
        if message.get("images"):
            out["images"] = message["images"]
        if message.get("tool_calls"):
            out["tool_calls"] = ollama_tool_calls(message["tool_calls"])
            names.update({c.get("id"): (c.get("function") or {}).get("name") for c in message["tool_calls"]})
        if message.get("tool_call_id"):
            out["tool_name"] = (
                message.get("name") or names.get(message["tool_call_id"]) or message["tool_call_id"]
            )
        converted.append(out)
    return converted
