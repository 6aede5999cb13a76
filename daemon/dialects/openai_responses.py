"""OpenAI's Responses API: requests, conversation items, the Response object and its stream
events, to and from the internal model.

A request's `instructions` and items (messages, function calls and their outputs, after the
items of the responses it continues) become OpenAI Chat-shaped messages: a function call joins
the assistant message before it as a `tool_calls` entry, a function call's output becomes a
`tool` message, reasoning items are left out. An answer's chunks become output items: a
message with one `output_text` part, and one `function_call` item per tool call, in the order
the model produced them. One state machine (`Output`) gives both the SSE events and the whole
Response, so both say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from roundhouse.daemon.models import ChatChunk, ChatRequest, ToolCall, ToolCallAssembler, Usage

INT64_MAX = 2**63 - 1
CHARS_PER_TOKEN = 4

# Items a client may send back from an earlier turn that no model here reads.
_SKIPPED_ITEMS = frozenset({"reasoning"})
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Tools OpenAI's own servers run (a search, a code sandbox...): there is no such server here, so
# they are left out of what the model is offered, and it answers without them.
HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "web_search_2025_08_26",
        "file_search",
        "code_interpreter",
        "image_generation",
        "computer",
        "computer_use_preview",
        "mcp",
        "tool_search",
    }
)
# A function inside a `namespace` tool is offered to the model as `<namespace>__<name>`.
NAMESPACE_JOIN = "__"


class InvalidRequest(ValueError):
    """A request the codec cannot translate; `param` names the field."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.message = message
        self.param = param


class CutOff(Exception):
    """The answer cannot be presented: a function call came out of order or unfinished."""


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: dict[str, Any] | None = None
    verbosity: str | None = None


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stream: bool = False
    store: bool | None = None
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    # Accepted and not acted on: no model here reasons, truncates or caches prompts for you.
    reasoning: dict[str, Any] | None = None
    include: list[str] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    # Refused when set (see `unsupported`).
    background: bool | None = None
    conversation: Any = None
    prompt: Any = None
    top_logprobs: int | None = None

    @property
    def keep(self) -> bool:
        """Whether the response is stored (`store` defaults to true, as OpenAI has it)."""
        return self.store is not False


def unsupported(body: ResponsesRequest) -> InvalidRequest | None:
    if body.background:
        return InvalidRequest("background responses are not supported", "background")
    if body.conversation is not None:
        return InvalidRequest("conversations are not supported; use previous_response_id", "conversation")
    if body.prompt is not None:
        return InvalidRequest("stored prompt templates are not supported", "prompt")
    if body.top_logprobs:
        return InvalidRequest("token log probabilities are not returned", "top_logprobs")
    return None


# Requests


def input_items(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request's input as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return value


def to_chat_request(
    body: ResponsesRequest, history: list[dict[str, Any]], items: list[dict[str, Any]], meta: dict[str, Any]
) -> ChatRequest:
    """The internal request; `history` holds the stored items of the responses it continues.
    Raises InvalidRequest naming the field."""
    if (problem := unsupported(body)) is not None:
        raise problem
    placed = [(item, "previous_response_id") for item in history]
    placed += [(item, f"input.{i}") for i, item in enumerate(items)]
    messages = [{"role": "system", "content": body.instructions}] if body.instructions else []
    messages += chat_messages(placed)
    if not messages:
        raise InvalidRequest("the request has no input", "input")
    tools = chat_tools(body.tools or [])
    choice = _tool_choice(body.tool_choice)
    return ChatRequest(
        model=body.model,
        messages=messages,
        stream=body.stream,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_output_tokens,
        tools=tools or None,
        # Nothing to choose from once the hosted tools are left out.
        tool_choice=choice if tools else None,
        response_format=_response_format(body.text),
        dialect="responses",
        user=body.user or body.safety_identifier,
        # The usage arrives with the last chunk either way; the stream's end needs it.
        include_usage=True,
        **meta,
    )


def chat_messages(placed: Iterable[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item, where in placed:
        if not isinstance(item, dict):
            raise InvalidRequest("every input item must be an object", where)
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            out.append(_message(item, where))
        elif kind == "function_call":
            name = _string(item, "name", where)
            if isinstance(item.get("namespace"), str) and item["namespace"]:
                name = item["namespace"] + NAMESPACE_JOIN + name
            call = {
                "id": _string(item, "call_id", where),
                "type": "function",
                "function": {"name": name, "arguments": _arguments(item, where)},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                last["content"] = last["content"] or None
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = _string(item, "call_id", where)
            out.append({"role": "tool", "tool_call_id": call_id, "content": _output_text(item, where)})
        elif kind not in _SKIPPED_ITEMS:
            raise InvalidRequest(f"input item type '{kind}' is not supported", f"{where}.type")
    return out


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{key}' must be a non-empty string", f"{where}.{key}")
    return value


def _arguments(item: dict[str, Any], where: str) -> str:
    value = item.get("arguments", "")
    if not isinstance(value, str):
        raise InvalidRequest("'arguments' must be a string of JSON", f"{where}.arguments")
    return value


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest("role must be user, assistant, system or developer", f"{where}.role")
    content = item.get("content")
    if role == "assistant":
        return {"role": "assistant", "content": _assistant_text(content, f"{where}.content")}
    # Local servers and their chat templates know `system`; the two mean the same here.
    return {"role": "system" if role == "developer" else role, "content": _parts(content, f"{where}.content")}


def _part_list(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or a list of parts", where)
    for i, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidRequest("every content part needs a 'type'", f"{where}.{i}.type")
    return content


def _text(part: dict[str, Any], where: str) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("a text part needs a 'text' string", f"{where}.text")
    return text


def _parts(content: Any, where: str) -> str | list[dict[str, Any]]:
    """A user or system message's content in Chat's shape: text, or parts with images."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(_part_list(content, where)):
        at = f"{where}.{i}"
        if part["type"] in ("input_text", "output_text"):
            parts.append({"type": "text", "text": _text(part, at)})
        elif part["type"] == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str) or not url:
                raise InvalidRequest("only images given by 'image_url' (a URL or data URL) are supported", at)
            image: dict[str, Any] = {"url": url}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(f"content part type '{part['type']}' is not supported", f"{at}.type")
    if all(p["type"] == "text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def _assistant_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for i, part in enumerate(_part_list(content, where)):
        if part["type"] in ("output_text", "input_text"):
            texts.append(_text(part, f"{where}.{i}"))
        elif part["type"] == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
        else:
            raise InvalidRequest(f"assistant content part type '{part['type']}' is not supported", where)
    return "".join(texts)


def _output_text(item: dict[str, Any], where: str) -> str:
    output = item.get("output")
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for i, part in enumerate(_part_list(output, f"{where}.output")):
            if part["type"] != "input_text":
                raise InvalidRequest(
                    "a function call's output may hold text only", f"{where}.output.{i}.type"
                )
            texts.append(_text(part, f"{where}.output.{i}"))
        return "\n\n".join(texts)
    raise InvalidRequest("'output' must be a string or a list of input_text parts", f"{where}.output")


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Chat function tools for the request's tools: its functions, and those inside its
    namespaces; hosted tools are left out."""
    out = []
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        kind = tool.get("type")
        if kind == "function":
            out.append(_tool(tool, where))
        elif kind == "namespace":
            prefix = _string(tool, "name", where) + NAMESPACE_JOIN
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise InvalidRequest("a namespace needs a list of 'tools'", f"{where}.tools")
            for j, function in enumerate(inner):
                if not isinstance(function, dict) or function.get("type") != "function":
                    raise InvalidRequest(
                        "only function tools are supported in a namespace", f"{where}.tools.{j}"
                    )
                out.append(_tool(function, f"{where}.tools.{j}", prefix))
        elif kind not in HOSTED_TOOLS:
            raise InvalidRequest(f"tool type '{kind}' is not supported; use function tools", f"{where}.type")
    return out


def namespaced(tools: list[dict[str, Any]] | None) -> dict[str, tuple[str, str]]:
    """Each namespaced function's name as the model calls it -> (namespace, name)."""
    found = {}
    for tool in tools or ():
        if tool.get("type") == "namespace":
            for function in tool.get("tools") or ():
                found[tool["name"] + NAMESPACE_JOIN + function["name"]] = (tool["name"], function["name"])
    return found


def _tool(tool: dict[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("a function tool needs a 'name'", f"{where}.name")
    parameters = tool.get("parameters")
    function: dict[str, Any] = {
        "name": prefix + name,
        "parameters": parameters or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any] | None) -> Any:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest("tool_choice must be auto, none, required or {type: function, name}", "tool_choice")


def _response_format(text: TextConfig | None) -> dict[str, Any] | None:
    form = text.format if text is not None else None
    if form is None or form.get("type") == "text":
        return None
    if form.get("type") == "json_object":
        return {"type": "json_object"}
    if form.get("type") != "json_schema":
        raise InvalidRequest("format type must be text, json_object or json_schema", "text.format.type")
    if not isinstance(form.get("name"), str) or not form["name"]:
        raise InvalidRequest("a json_schema format needs a 'name'", "text.format.name")
    if not isinstance(form.get("schema"), dict):
        raise InvalidRequest("a json_schema format needs a 'schema' object", "text.format.schema")
    schema: dict[str, Any] = {"name": form["name"], "schema": form["schema"]}
    for key in ("strict", "description"):
        if form.get(key) is not None:
            schema[key] = form[key]
    return {"type": "json_schema", "json_schema": schema}


# Stored items


_ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


def stored_input(items: list[dict[str, Any]], response_id: str) -> list[dict[str, Any]]:
    """The input items as they are kept and listed: each with an id, message content as parts."""
    kept = []
    for i, item in enumerate(items):
        item = dict(item)
        kind = item.setdefault("type", "message")
        if kind == "message" and isinstance(item.get("content"), str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": part, "text": item["content"]}]
            if part == "output_text":
                item["content"][0]["annotations"] = []
        if kind in ("message", "function_call", "function_call_output"):
            item.setdefault("status", "completed")
        item.setdefault("id", f"{_ITEM_PREFIXES.get(kind, 'item')}_{response_id[5:]}_in{i}")
        kept.append(item)
    return kept


# Answers: chunks -> output items


@dataclass(slots=True)
class _Item:
    index: int  # the output index
    id: str
    kind: Literal["message", "function_call"]
    text: str = ""
    call_id: str | None = None
    name: str | None = None
    namespace: str | None = None
    done: bool = False
    status: str = "in_progress"


@dataclass(slots=True, eq=False)
class _Call(ToolCall):
    item: _Item | None = None


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


@dataclass
class Output:
    """Turns an answer's chunks into output item events (dicts without `sequence_number`).

    OpenAI-shaped tool call deltas name their call by `index` (or, from some servers, only by
    a new `id`); each call becomes its own `function_call` item, added once its name is known
    and done only when the answer finished.
    """

    response_id: str
    input_estimate: int = 0
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    items: list[_Item] = field(default_factory=list)
    open: _Item | None = None
    calls: ToolCallAssembler[_Call] = field(default_factory=lambda: ToolCallAssembler(_Call))
    current: _Call | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    answered: int = 0  # characters and pieces, for usage the upstream did not send
    pieces: int = 0

    def feed(self, chunk: ChatChunk) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if chunk.content:
            self.answered += len(chunk.content)
            self.pieces += 1
            if self.open is None or self.open.kind != "message":
                events += self._close()
                events += self._open_message()
            assert self.open is not None
            self.open.text += chunk.content
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": self.open.id,
                    "output_index": self.open.index,
                    "content_index": 0,
                    "delta": chunk.content,
                    "logprobs": [],
                }
            )
        for delta in chunk.tool_calls or ():
            events += self._tool_delta(delta)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        return events

    def end(self) -> list[dict[str, Any]]:
        """The events that close the answer; raises CutOff when a call is left unfinished."""
        if self.finish_reason is None and self.current is not None:
            raise CutOff("the answer ended in the middle of a function call")
        if any(call.item is None for call in self.calls.calls):
            raise CutOff("a function call arrived without a name")
        return self._close(final=True)

    @property
    def incomplete_reason(self) -> str | None:
        return _INCOMPLETE.get(self.finish_reason or "stop")

    @property
    def final_usage(self) -> Usage:
        if self.usage is not None:
            return self.usage
        return Usage(self.input_estimate, max(self.pieces, -(-self.answered // CHARS_PER_TOKEN)))

    def output(self, *, done_only: bool = False) -> list[dict[str, Any]]:
        return [self._item_json(item) for item in self.items if item.done or not done_only]

    def _item_json(self, item: _Item) -> dict[str, Any]:
        status = item.status
        if item.kind == "message":
            part = {"type": "output_text", "text": item.text, "annotations": []}
            return {
                "id": item.id,
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": [part],
            }
        call = next(c for c in self.calls.calls if c.item is item)
        return {**self._call_json(item, call.arguments), "status": status}

    def _call_json(self, item: _Item, arguments: str) -> dict[str, Any]:
        call = {"id": item.id, "type": "function_call", "call_id": item.call_id, "name": item.name}
        if item.namespace is not None:
            call["namespace"] = item.namespace
        return {**call, "arguments": arguments}

    def _new_item(self, kind: Literal["message", "function_call"]) -> _Item:
        prefix = "msg" if kind == "message" else "fc"
        item = _Item(
            index=len(self.items), id=f"{prefix}_{self.response_id[5:]}_{len(self.items)}", kind=kind
        )
        self.items.append(item)
        self.open = item
        return item

    def _open_message(self) -> list[dict[str, Any]]:
        item = self._new_item("message")
        added = {
            "id": item.id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        return [
            {"type": "response.output_item.added", "output_index": item.index, "item": added},
            {
                "type": "response.content_part.added",
                "item_id": item.id,
                "output_index": item.index,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ]

    def _close(self, final: bool = False) -> list[dict[str, Any]]:
        """Closes the open item; the last one, at the answer's end, is incomplete when the
        answer was cut short (max tokens, a content filter)."""
        item, self.open = self.open, None
        if item is None:
            return []
        item.done = True
        item.status = "incomplete" if final and self.incomplete_reason else "completed"
        events: list[dict[str, Any]] = []
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            part = {"type": "output_text", "text": item.text, "annotations": []}
            events += [
                {
                    "type": "response.output_text.done",
                    **where,
                    "content_index": 0,
                    "text": item.text,
                    "logprobs": [],
                },
                {"type": "response.content_part.done", **where, "content_index": 0, "part": part},
            ]
        else:
            call = self.current
            assert call is not None
            self.current = None
            done = {"arguments": call.arguments, "name": item.name}
            events.append({"type": "response.function_call_arguments.done", **where, **done})
        events.append(
            {"type": "response.output_item.done", "output_index": item.index, "item": self._item_json(item)}
        )
        return events

    def _tool_delta(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        call, arguments = self.calls.feed(delta)
        if call is not self.current and call.item is not None:
            raise CutOff("function call deltas arrived out of order")
        if call.item is None and call.name:
            events += self._close()
            item = call.item = self._new_item("function_call")
            item.namespace, item.name = self.namespaces.get(call.name, (None, call.name))
            item.call_id = call.id or f"call_{self.response_id[5:]}_{item.index}"
            self.current = call
            added = {**self._call_json(item, ""), "status": "in_progress"}
            events.append({"type": "response.output_item.added", "output_index": item.index, "item": added})
            if call.arguments:
                events.append(self._arguments_delta(item, call.arguments))
        elif arguments and call.item is not None:
            events.append(self._arguments_delta(call.item, arguments))
        return events

    @staticmethod
    def _arguments_delta(item: _Item, delta: str) -> dict[str, Any]:
        return {
            "type": "response.function_call_arguments.delta",
            "item_id": item.id,
            "output_index": item.index,
            "delta": delta,
        }


# The Response object


def skeleton(body: ResponsesRequest, *, response_id: str, created_at: int, model: str) -> dict[str, Any]:
    """The Response as it starts: in progress, no output, the request's settings echoed."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "model": model,
        "output": [],
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "previous_response_id": body.previous_response_id,
        "reasoning": {"effort": None, "summary": None},
        "store": body.keep,
        "temperature": body.temperature,
        "text": {"format": (body.text.format if body.text and body.text.format else {"type": "text"})},
        "tool_choice": body.tool_choice if body.tool_choice is not None else "auto",
        "tools": body.tools or [],
        "top_p": body.top_p,
        "truncation": body.truncation or "disabled",
        "usage": None,
        "user": body.user,
        "metadata": body.metadata or {},
    }


def finished(base: dict[str, Any], output: Output) -> dict[str, Any]:
    reason = output.incomplete_reason
    return {
        **base,
        "status": "incomplete" if reason else "completed",
        "incomplete_details": {"reason": reason} if reason else None,
        "output": output.output(),
        "usage": usage_json(output.final_usage),
    }


def failed(base: dict[str, Any], output: Output, status: int, message: str) -> dict[str, Any]:
    code = "rate_limit_exceeded" if status == 429 else "server_error"
    return {
        **base,
        "status": "failed",
        "error": {"code": code, "message": message},
        "output": output.output(done_only=True),
    }


def response_json(
    chunks: Iterable[ChatChunk], base: dict[str, Any], input_estimate: int, body: ResponsesRequest
) -> dict[str, Any]:
    """The whole Response for a non-stream answer; raises CutOff for an unfinished call."""
    output = Output(base["id"], input_estimate, namespaced(body.tools))
    for chunk in chunks:
        output.feed(chunk)
    output.end()
    return finished(base, output)


# The SSE stream


class StreamEncoder:
    """The event stream of one answer: `start()`, `feed()` per chunk, then `end()` and `last()`,
    or `failure()`. Every event carries its `sequence_number`."""

    def __init__(self, base: dict[str, Any], input_estimate: int, body: ResponsesRequest) -> None:
        self.base = base
        self.output = Output(base["id"], input_estimate, namespaced(body.tools))
        self.sequence = 0

    def _sse(self, event: dict[str, Any]) -> bytes:
        event["sequence_number"] = self.sequence
        self.sequence += 1
        return b"event: " + event["type"].encode() + b"\ndata: " + to_json(event) + b"\n\n"

    def _render(self, events: list[dict[str, Any]]) -> bytes:
        return b"".join(self._sse(event) for event in events)

    def start(self) -> bytes:
        return self._render(
            [
                {"type": "response.created", "response": self.base},
                {"type": "response.in_progress", "response": self.base},
            ]
        )

    def feed(self, chunk: ChatChunk) -> bytes:
        return self._render(self.output.feed(chunk))

    def end(self) -> tuple[bytes, dict[str, Any]]:
        """The events that close the output items, and the finished Response; raises CutOff."""
        closing = self._render(self.output.end())
        return closing, finished(self.base, self.output)

    def last(self, response: dict[str, Any]) -> bytes:
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return self._sse({"type": kind, "response": response})

    def failure(self, status: int, message: str, code: str) -> bytes:
        """An `error` event, then `response.failed` with only the items that were done."""
        error = {"type": "error", "code": code, "message": message, "param": None}
        response = failed(self.base, self.output, status, message)
        return self._sse(error) + self._sse({"type": "response.failed", "response": response})
