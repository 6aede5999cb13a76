"""The one internal request/response model.

Both HTTP dialects translate into these types at the edge, once; every stage after the
API (cache, routing, residency, scheduling, backends, ledger) sees only these.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic_core import to_json

Dialect = Literal["openai", "ollama", "anthropic", "responses", "control"]
RequestKind = Literal["chat", "completion"]


class Priority(IntEnum):
    """Lower value runs first."""

    INTERACTIVE = 0
    BACKGROUND = 10


SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "response_format",
)


# A random prefix per process and a counter: as unique as a uuid4, without a system call per
# request (reading the OS's randomness costs tens of microseconds on some virtual machines).
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(4)))


def new_request_id() -> str:
    return f"rh-{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


@dataclass(slots=True)
class ChatRequest:
    """A chat or text-completion request in the internal form.

    `messages` uses the OpenAI message shape (role, content, tool_calls, tool_call_id),
    which is a superset of Ollama's. For `kind == "completion"` the text lives in `prompt`
    (and `suffix` for fill-in-the-middle) and `messages` is empty.
    """

    model: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    kind: RequestKind = "chat"
    prompt: str | None = None
    suffix: str | None = None
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    # Backend-specific runner options (Ollama `options`), passed through where understood.
    options: dict[str, Any] = field(default_factory=dict)
    keep_alive: str | float | None = None
    # Who and how.
    dialect: Dialect = "openai"
    app: str = "unknown"
    chat_id: str | None = None
    user: str | None = None
    priority: Priority = Priority.INTERACTIVE
    request_id: str = field(default_factory=new_request_id)
    received_at: float = field(default_factory=time.time)
    include_usage: bool = False
    # Cache-Control from the client: "no-cache" skips lookup, "no-store" skips both.
    cache_control: str | None = None
    # The client's own body, for a backend whose provider speaks the request's dialect.
    native: NativeBody | None = None

    def sampling(self) -> dict[str, Any]:
        """The OpenAI-named generation parameters the client set (None ones left out)."""
        return {name: getattr(self, name) for name in SAMPLING_FIELDS if getattr(self, name) is not None}

    def text(self) -> str:
        """All user-visible text of the request, for signals that read content."""
        if self.kind == "completion":
            return (self.prompt or "") + (self.suffix or "")
        return "\n".join(self.texts())

    def texts(self) -> list[str]:
        """The same text, one piece per message (or the prompt and the suffix)."""
        if self.kind == "completion":
            return [self.prompt or "", self.suffix or ""]
        return [content_text(m.get("content")) for m in self.messages]

    def last_user_text(self) -> str:
        if self.kind == "completion":
            return self.prompt or ""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return ""


@dataclass(slots=True, frozen=True)
class NativeBody:
    """A request as its client sent it, in its own dialect, with the headers that go with it.

    A backend whose provider speaks that dialect sends it on instead of a translation, so that
    what the internal form cannot hold (thinking blocks, cache_control marks) reaches the
    provider. `translated` is the internal messages it was translated to: when a stage since
    (memories, masking) changed them, the body no longer says what the gateway means to send.
    """

    dialect: Dialect
    body: dict[str, Any]
    headers: dict[str, str]
    translated: bytes

    @staticmethod
    def fingerprint(messages: list[dict[str, Any]]) -> bytes:
        return to_json(messages)

    def still_matches(self, request: ChatRequest) -> bool:
        return request.dialect == self.dialect and to_json(request.messages) == self.translated


def content_text(content: Any) -> str:
    """Flatten OpenAI content (a string or a list of parts) into plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return str(content)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ChatChunk:
    """One piece of a streamed answer. The last chunk has `finish_reason` and `usage`."""

    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    stop_sequence: str | None = None  # the requested stop string that ended the answer, when known
    # One event of an answer in the request's own dialect, from a backend that answered a
    # NativeBody: the client gets it as it is (`content` still carries the text it adds).
    native: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatResult:
    """A whole answer, assembled from chunks."""

    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)

    @classmethod
    def from_chunks(cls, chunks: list[ChatChunk]) -> ChatResult:
        result = cls()
        parts: list[str] = []
        calls = ToolCallAssembler(ToolCall)
        for chunk in chunks:
            parts.append(chunk.content)
            for piece in chunk.tool_calls or ():
                calls.feed(piece)
            if chunk.finish_reason:
                result.finish_reason = chunk.finish_reason
            if chunk.usage:
                result.usage = chunk.usage
        result.content = "".join(parts)
        result.tool_calls = [call.as_openai() for call in calls.calls] or None
        return result


@dataclass(slots=True, eq=False)
class ToolCall:
    """One tool call as its streamed pieces put it together (identity is the call itself)."""

    id: str | None = None
    name: str | None = None
    arguments: str = ""

    def as_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


Call = TypeVar("Call", bound=ToolCall)


class ToolCallAssembler(Generic[Call]):
    """Streamed OpenAI-style tool call deltas merged into whole calls, for every dialect.

    A call is named by its `index` (or, from servers that send none, its `id`); its id and name
    come in its first piece and its arguments are split across the pieces. A piece that brings
    a new id, or a header after the call's arguments are already a whole JSON object, starts a
    new call: backends that send each call whole may number every one of them 0. `make` builds
    a new call, so a dialect can keep its own presentation state on it.
    """

    def __init__(self, make: Callable[[], Call]) -> None:
        self.make = make
        self.calls: list[Call] = []
        self._by_key: dict[Any, Call] = {}

    def feed(self, piece: dict[str, Any]) -> tuple[Call, str]:
        """The call this piece belongs to, and the arguments text it added."""
        function = piece.get("function") or {}
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # a whole call from a server that sends objects
            arguments = json.dumps(arguments, ensure_ascii=False)
        key = piece["index"] if piece.get("index") is not None else piece.get("id")
        call = self._by_key.get(key) if key is not None else (self.calls[-1] if self.calls else None)
        if call is not None and (piece.get("id") or function.get("name")) and self._new_call(call, piece):
            call = None
        if call is None:
            call = self.make()
            self.calls.append(call)
        if key is not None:
            self._by_key[key] = call
        call.id = call.id or piece.get("id")
        call.name = call.name or function.get("name")
        call.arguments += arguments
        return call, arguments

    @staticmethod
    def _new_call(call: ToolCall, piece: dict[str, Any]) -> bool:
        if piece.get("id") and call.id and piece["id"] != call.id:
            return True
        try:
            return isinstance(json.loads(call.arguments), dict)
        except ValueError:
            return False


@dataclass(slots=True)
class ModelInfo:
    """A model as Roundhouse offers it.

    `id` is the stable public name (`local/smollm2-135m`, `ollama/llama3.1:8b`,
    `openai/gpt-4o-mini`); `native` is what the backend itself calls it.
    """

    id: str
    backend: str
    native: str
    local: bool
    kind: Literal["chat", "embedding"] = "chat"
    family: str = ""
    parameter_size: str = ""
    quantization: str = ""
    size_bytes: int = 0
    context_length: int = 0
    supports_tools: bool = False
    virtual: bool = False
    description: str = ""


@dataclass(slots=True)
class LoadedModel:
    """A model resident in memory on a backend (Ollama's /api/ps row)."""

    id: str
    backend: str
    native: str
    size_bytes: int
    size_vram: int
    expires_at: str | None = None
    context_length: int = 0
    pinned: bool = False


@dataclass(slots=True)
class BackendHealth:
    ok: bool
    detail: str = ""
    latency_ms: float | None = None
