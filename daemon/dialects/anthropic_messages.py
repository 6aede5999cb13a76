"""Anthropic's Messages API: requests, messages, stream events and errors, to and from the
internal model.

A request becomes a ChatRequest with OpenAI-shaped messages (system text, user parts with
`image_url`s, assistant `tool_calls`, `tool` messages for tool results). An answer's chunks
become content blocks: text, then one `tool_use` block per tool call, in the order the model
produced them. One state machine (`Blocks`) turns chunks into block events for both the SSE
stream and the whole message, so both say the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from pydantic_core import to_json
from typing_extensions import TypedDict

from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo, ToolCall, ToolCallAssembler, Usage

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_INT64_MAX = 2**63 - 1  # what a backend can hold

# Blocks a client may send back from an earlier turn that no model here reads.
_SKIPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


class InvalidRequest(ValueError):
    """A request the codec cannot translate; `param` names the field."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.message = message
        self.param = param


@with_config(ConfigDict(extra="allow"))
class Message(TypedDict):
    role: Literal["user", "assistant", "system"]  # system: a mid-conversation instruction
    content: str | list[dict[str, Any]]


@with_config(ConfigDict(extra="allow"))
class Tool(TypedDict):
    name: str
    description: NotRequired[str]
    input_schema: NotRequired[dict[str, Any]]
    type: NotRequired[str | None]


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    user_id: str | None = None


class CountTokensRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[Tool] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1, le=_INT64_MAX)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0, le=_INT64_MAX)
    stop_sequences: list[str] | None = None
    metadata: Metadata | None = None


# Requests


def to_chat_request(body: CountTokensRequest, meta: dict[str, Any]) -> ChatRequest:
    """The internal request for a Messages (or count_tokens) body; raises InvalidRequest."""
    messages: list[dict[str, Any]] = []
    system = _system_text(body.system)
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(body.messages):
        where = f"messages.{i}.content"
        if message["role"] == "system":
            messages.append({"role": "system", "content": _system_text(message["content"], where)})
        elif message["role"] == "user":
            messages.extend(_user_messages(message["content"], where))
        else:
            messages.append(_assistant_message(message["content"], where))
    chat = ChatRequest(
        model=body.model,
        messages=messages,
        tools=[_tool(t, f"tools.{i}") for i, t in enumerate(body.tools)] if body.tools else None,
        tool_choice=_tool_choice(body.tool_choice),
        dialect="anthropic",
        **meta,
    )
    if isinstance(body, MessagesRequest):
        chat.stream = body.stream
        chat.max_tokens = body.max_tokens
        chat.temperature = body.temperature
        chat.top_p = body.top_p
        chat.stop = list(body.stop_sequences) if body.stop_sequences else None
        if body.top_k is not None:
            chat.options["top_k"] = body.top_k
        if body.metadata is not None and body.metadata.user_id:
            chat.user = body.metadata.user_id
        # The usage arrives with the last chunk either way; the stream's end needs it.
        chat.include_usage = True
    return chat


def _system_text(system: str | list[dict[str, Any]] | None, where: str = "system") -> str:
    if system is None or isinstance(system, str):
        return system or ""
    texts = []
    for i, block in enumerate(system):
        if block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise InvalidRequest("system blocks must be text blocks with a 'text' string", f"{where}.{i}")
        texts.append(block["text"])
    return "\n\n".join(texts)


def _blocks(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    for i, block in enumerate(content):
        if not isinstance(block.get("type"), str):
            raise InvalidRequest("every content block needs a 'type'", f"{where}.{i}.type")
    return content


def _text_of(block: dict[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("a text block needs a 'text' string", f"{where}.text")
    return text


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest("an image block needs a 'source'", f"{where}.source")
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") or "image/png"
        url = f"data:{media};base64,{source['data']}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise InvalidRequest(
            "an image source must be {type: base64, media_type, data} or {type: url, url}",
            f"{where}.source",
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _user_messages(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """A user turn: its tool results as `tool` messages first (they answer the assistant's
    calls just before), then the rest as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(_blocks(content, where)):
        at = f"{where}.{i}"
        kind = block["type"]
        if kind == "text":
            parts.append({"type": "text", "text": _text_of(block, at)})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            tool_messages.append(_tool_message(block, at, parts))
        elif kind not in _SKIPPED_BLOCKS:
            raise InvalidRequest(f"content block type '{kind}' is not supported", f"{at}.type")
    out = tool_messages
    if parts:
        plain = all(p["type"] == "text" for p in parts)
        text = "\n\n".join(p["text"] for p in parts) if plain else None
        out.append({"role": "user", "content": text if plain else parts})
    return out


def _tool_message(block: dict[str, Any], where: str, images: list[dict[str, Any]]) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("a tool_result block needs its 'tool_use_id'", f"{where}.tool_use_id")
    content = block.get("content", "")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            at = f"{where}.content.{j}"
            if not isinstance(part, dict) or part.get("type") not in ("text", "image"):
                raise InvalidRequest("tool_result content blocks must be text or image", at)
            if part["type"] == "text":
                texts.append(_text_of(part, at))
            else:
                # A `tool` message carries text only: its images go to the user message after it.
                images.append(_image_part(part, at))
        text = "\n\n".join(texts)
    else:
        raise InvalidRequest("tool_result content must be a string or a list of blocks", f"{where}.content")
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _assistant_message(content: str | list[dict[str, Any]], where: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(_blocks(content, where)):
        at = f"{where}.{i}"
        kind = block["type"]
        if kind == "text":
            texts.append(_text_of(block, at))
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise InvalidRequest("a tool_use block needs an 'id' and a 'name'", at)
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": arguments},
                }
            )
        elif kind not in _SKIPPED_BLOCKS:
            raise InvalidRequest(f"content block type '{kind}' is not supported in an assistant turn", at)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: Tool, where: str) -> dict[str, Any]:
    kind = tool.get("type")
    if kind not in (None, "custom") or "input_schema" not in tool:
        raise InvalidRequest(f"only client tools with an 'input_schema' are supported (not '{kind}')", where)
    function: dict[str, Any] = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: dict[str, Any] | None) -> Any:
    if choice is None:
        return None
    kind = choice.get("type")
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest("tool_choice must be auto, any, none or {type: tool, name}", "tool_choice")


# Answers: chunks -> content blocks


class CutOff(Exception):
    """The answer cannot be presented: a tool call came out of order or unfinished."""


@dataclass(slots=True, eq=False)
class _Call(ToolCall):
    index: int = -1  # the content block's
    opened: bool = False


Event = tuple[str, int, dict[str, Any]]  # ("start" | "delta" | "stop", block index, payload)


class Blocks:
    """Turns an answer's chunks into content block events.

    OpenAI-shaped tool call deltas name their call by `index` (or, from some servers, only by
    a new `id`); each call becomes its own `tool_use` block, opened once its name is known,
    its arguments sent as `input_json_delta`s and closed only once they parse as JSON.
    """

    def __init__(self, id_prefix: str) -> None:
        self.id_prefix = id_prefix
        self.next_index = 0
        self.open: int | None = None  # the open block's index
        self.text_open = False
        self.calls = ToolCallAssembler(_Call)
        self.current: _Call | None = None
        self.finish_reason: str | None = None
        self.stop_sequence: str | None = None  # the stop string that ended the answer, if one did
        self.usage: Usage | None = None

    def feed(self, chunk: ChatChunk) -> list[Event]:
        events: list[Event] = []
        if chunk.content:
            if not self.text_open:
                events += self._close()
                events.append(("start", self._open(), {"type": "text", "text": ""}))
                self.text_open = True
            events.append(("delta", self.next_index - 1, {"type": "text_delta", "text": chunk.content}))
        for delta in chunk.tool_calls or ():
            events += self._tool_delta(delta)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
            self.stop_sequence = chunk.stop_sequence
        if chunk.usage is not None:
            self.usage = chunk.usage
        return events

    def end(self) -> list[Event]:
        """The events that close the answer; raises CutOff when a tool call is left unfinished."""
        if self.finish_reason is None and self.current is not None:
            raise CutOff("the answer ended in the middle of a tool call")
        events = self._close()
        if any(not call.opened for call in self.calls.calls):
            raise CutOff("a tool call arrived without a name")
        return events

    @property
    def stop_reason(self) -> str:
        if self.calls.calls:
            return "tool_use"
        if self.finish_reason == "stop" and self.stop_sequence is not None:
            return "stop_sequence"
        return STOP_REASONS.get(self.finish_reason or "stop", "end_turn")

    @property
    def matched_stop(self) -> str | None:
        """The stop string to name in `stop_sequence`: only when it is the stop reason."""
        return self.stop_sequence if self.stop_reason == "stop_sequence" else None

    def _open(self) -> int:
        self.open = self.next_index
        self.next_index += 1
        return self.open

    def _close(self) -> list[Event]:
        if self.open is None:
            return []
        call = self.current
        if call is not None:
            try:
                parsed = json.loads(call.arguments) if call.arguments.strip() else {}
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise CutOff(f"the arguments of tool call '{call.name}' are not a JSON object")
        index, self.open, self.text_open, self.current = self.open, None, False, None
        return [("stop", index, {})]

    def _tool_delta(self, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        call, arguments = self.calls.feed(delta)
        if call is not self.current and call.opened:
            raise CutOff("tool call deltas arrived out of order")
        if not call.opened and call.name:
            events += self._close()
            call.index = self._open()
            call.opened = True
            self.current = call
            block_id = call.id or f"toolu_{self.id_prefix}_{call.index}"
            block = {"type": "tool_use", "id": block_id, "name": call.name, "input": {}}
            events.append(("start", call.index, block))
            if call.arguments:
                events.append(
                    ("delta", call.index, {"type": "input_json_delta", "partial_json": call.arguments})
                )
        elif arguments and call.opened:
            events.append(("delta", call.index, {"type": "input_json_delta", "partial_json": arguments}))
        return events


def usage_json(usage: Usage | None, input_estimate: int) -> dict[str, int]:
    prompt = usage.prompt_tokens if usage is not None and usage.prompt_tokens else input_estimate
    return {
        "input_tokens": prompt,
        "output_tokens": usage.completion_tokens if usage is not None else 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def message_json(
    chunks: Iterable[ChatChunk], *, message_id: str, model: str, input_estimate: int
) -> dict[str, Any]:
    """The whole Message for a non-stream answer; raises CutOff for an unfinished tool call."""
    blocks = Blocks(message_id)
    events: list[Event] = []
    for chunk in chunks:
        events += blocks.feed(chunk)
    events += blocks.end()
    content: list[dict[str, Any]] = []
    arguments: dict[int, str] = {}
    for kind, index, payload in events:
        if kind == "start":
            content.append(dict(payload))
        elif kind == "delta" and payload["type"] == "text_delta":
            content[index]["text"] += payload["text"]
        elif kind == "delta":
            arguments[index] = arguments.get(index, "") + payload["partial_json"]
    for index, text in arguments.items():
        content[index]["input"] = json.loads(text) if text.strip() else {}
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": blocks.stop_reason,
        "stop_sequence": blocks.matched_stop,
        "usage": usage_json(blocks.usage, input_estimate),
    }


# The SSE stream


def sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + to_json(data) + b"\n\n"


_EVENT_NAMES = {"start": "content_block_start", "delta": "content_block_delta", "stop": "content_block_stop"}


class StreamEncoder:
    """The event stream of one answer: `start()`, `feed()` per chunk, then `end()` or `error()`."""

    def __init__(self, *, message_id: str, model: str, input_estimate: int) -> None:
        self.message_id = message_id
        self.model = model
        self.input_estimate = input_estimate
        self.blocks = Blocks(message_id)

    def start(self) -> bytes:
        message = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_json(None, self.input_estimate),
        }
        return sse("message_start", {"type": "message_start", "message": message}) + sse(
            "ping", {"type": "ping"}
        )

    def feed(self, chunk: ChatChunk) -> bytes:
        return self._render(self.blocks.feed(chunk))

    def end(self) -> bytes:
        """The closing events; raises CutOff when the answer cannot be presented as complete."""
        out = self._render(self.blocks.end())
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.blocks.stop_reason, "stop_sequence": self.blocks.matched_stop},
            "usage": usage_json(self.blocks.usage, self.input_estimate),
        }
        return out + sse("message_delta", delta) + sse("message_stop", {"type": "message_stop"})

    def _render(self, events: list[Event]) -> bytes:
        out = b""
        for kind, index, payload in events:
            data: dict[str, Any] = {"type": _EVENT_NAMES[kind], "index": index}
            if kind == "start":
                data["content_block"] = payload
            elif kind == "delta":
                data["delta"] = payload
            out += sse(data["type"], data)
        return out


# Errors and models


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_json(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def error_event(status: int, message: str) -> bytes:
    return sse("error", error_json(status, message))


def model_json(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "type": "model",
        "display_name": model.id,
        "created_at": "1970-01-01T00:00:00Z",
        "lifecycle": "active",
        "max_input_tokens": model.context_length or None,
    }


def models_page(models: list[ModelInfo]) -> dict[str, Any]:
    data = [model_json(m) for m in models]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
