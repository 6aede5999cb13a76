"""A stand-in Anthropic Messages API on a real socket.

Speaks the documented wire format: POST /v1/messages answering a whole Message (JSON) or its
SSE event stream (message_start, a thinking block with its signature, a text block,
message_delta with the usage, message_stop), and `{"type": "error", ...}` bodies. It records
every request body and its headers so tests can prove what reached it, unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.standins.runner import Standin


@dataclass
class AnthropicStandin(Standin):
    thinking: str = "The user greets me; a short greeting back will do."
    signature: str = "EqQBCkYIARgCIkDsignature-of-the-thinking-block"
    reply: str = "Hello from the Anthropic stand-in."
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 21,
            "output_tokens": 13,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
    )
    failures: list[tuple[int, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.root_url

    def _content(self) -> list[dict[str, Any]]:
        return [
            {"type": "thinking", "thinking": self.thinking, "signature": self.signature},
            {"type": "text", "text": self.reply},
        ]

    def _message(self, model: str, usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": "msg_standin01",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self._content(),
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def _build(self) -> FastAPI:
        app = FastAPI()

        async def messages(request: Request) -> Response:
            body = await request.json()
            with self._lock:
                self.requests.append(body)
                self.headers.append(dict(request.headers))
            if self.failures:
                status, text = self.failures.pop(0)
                kind = "rate_limit_error" if status == 429 else "api_error"
                return JSONResponse({"type": "error", "error": {"type": kind, "message": text}}, status)
            model = body.get("model", "")
            if not body.get("stream"):
                return JSONResponse(self._message(model, self.usage))
            return StreamingResponse(self._events(model), media_type="text/event-stream")

        app.add_api_route("/v1/messages", messages, methods=["POST"])
        return app

    async def _events(self, model: str) -> Any:
        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        start = {**self._message(model, {**self.usage, "output_tokens": 1}), "content": []}
        start["stop_reason"] = None
        yield event("message_start", {"type": "message_start", "message": start})
        yield event("ping", {"type": "ping"})
        yield event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
        )
        half = len(self.thinking) // 2
        for piece in (self.thinking[:half], self.thinking[half:]):
            delta = {"type": "thinking_delta", "thinking": piece}
            yield event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        delta = {"type": "signature_delta", "signature": self.signature}
        yield event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield event(
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        )
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
            yield event("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta})
        yield event("content_block_stop", {"type": "content_block_stop", "index": 1})
        yield event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": self.usage["output_tokens"]},
            },
        )
        yield event("message_stop", {"type": "message_stop"})
