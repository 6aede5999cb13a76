"""A stand-in OpenAI-compatible server (a cloud provider, LM Studio, vLLM...) on a real socket.

Speaks the documented wire format: /v1/models, /v1/chat/completions (JSON or SSE with
`data: [DONE]`), /v1/completions, /v1/embeddings, and `{"error": {...}}` bodies. It records
every request body and Authorization header so tests can prove what did (not) reach it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.standins.runner import Standin


def tiny_png(seed: str) -> bytes:
    """A valid 8x8 PNG whose colour comes from `seed`."""
    r, g, b = hashlib.sha256(seed.encode()).digest()[:3]
    raw = b"".join(b"\x00" + bytes([r, g, b]) * 8 for _ in range(8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class OpenAIStandin(Standin):
    models: list[str] = field(default_factory=lambda: ["gpt-4o-mini", "gpt-4o"])
    reply: str = "Cloud stand-in answer."
    # When set, a streamed reply comes in pieces of this many characters (not word by word).
    chunk_chars: int = 0
    token_delay_s: float = 0.0
    # Some servers (older llama.cpp builds, LM Studio) never send usage, even when asked.
    send_usage: bool = True
    failures: list[tuple[int, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    # When set, chat answers call these tools ({"name", "arguments"}) instead of replying.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    # A streamed tool call is cut in the middle of its arguments: the server drops the connection.
    cut_mid_tool_call: bool = False

    @property
    def url(self) -> str:
        """Base URL including /v1, as OpenAI SDKs and litellm expect."""
        return self.root_url + "/v1"

    def all_text(self) -> str:
        """Everything every request carried, as one string (for 'never reached' checks)."""
        with self._lock:
            return "\n".join(json.dumps(r) for r in self.requests)

    def _build(self) -> FastAPI:
        app = FastAPI()

        def failure() -> JSONResponse | None:
            if not self.failures:
                return None
            status, message = self.failures.pop(0)
            kind = "rate_limit_error" if status == 429 else "server_error"
            return JSONResponse(
                {"error": {"message": message, "type": kind, "param": None, "code": None}}, status
            )

        async def record(request: Request) -> dict[str, Any]:
            body = await request.json()
            with self._lock:
                self.requests.append(body)
                self.auth_headers.append(request.headers.get("authorization", ""))
            return body

        async def models() -> dict[str, Any]:
            return {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "standin"}
                    for m in self.models
                ],
            }

        async def chat(request: Request) -> Response:
            body = await record(request)
            failed = failure()
            if failed is not None:
                return failed
            created = int(time.time())
            words = self.reply.split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            if self.chunk_chars:
                size = self.chunk_chars
                pieces = [self.reply[i : i + size] for i in range(0, len(self.reply), size)]
            usage = {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 7 + len(pieces)}
            if self.tool_calls:
                return self._tool_answer(body, created, usage)
            if not body.get("stream"):
                return JSONResponse(
                    {
                        "id": "chatcmpl-standin",
                        "object": "chat.completion",
                        "created": created,
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": self.reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    }
                )

            async def stream() -> Any:
                base = {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body.get("model"),
                }
                first = {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                }
                yield f"data: {json.dumps(first)}\n\n"
                for piece in pieces:
                    if self.token_delay_s:
                        await asyncio.sleep(self.token_delay_s)
                    chunk = {
                        **base,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    yield f"data: {json.dumps(chunk)}\n\n"
                last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(last)}\n\n"
                if self.send_usage and (body.get("stream_options") or {}).get("include_usage"):
                    yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(stream(), media_type="text/event-stream")

        async def completions(request: Request) -> Response:
            body = await record(request)
            failed = failure()
            if failed is not None:
                return failed
            text = self.reply
            usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
            payload = {
                "id": "cmpl-standin",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
                "usage": usage,
            }
            if not body.get("stream"):
                return JSONResponse(payload)

            async def stream() -> Any:
                yield f"data: {json.dumps(payload)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(stream(), media_type="text/event-stream")

        async def embeddings(request: Request) -> Response:
            body = await record(request)
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": [b / 255 for b in hashlib.sha256(t.encode()).digest()[:8]],
                }
                for i, t in enumerate(inputs)
            ]
            return JSONResponse(
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                }
            )

        async def images(request: Request) -> Response:
            body = await record(request)
            if (failed := failure()) is not None:
                return failed
            png = base64.b64encode(tiny_png(str(body.get("prompt", "")))).decode()
            count = int(body.get("n") or 1)
            return JSONResponse(
                {
                    "created": int(time.time()),
                    "data": [{"b64_json": png, "revised_prompt": body.get("prompt")} for _ in range(count)],
                    "usage": {
                        "input_tokens": 10,
                        "output_tokens": 272 * count,
                        "total_tokens": 10 + 272 * count,
                    },
                }
            )

        for prefix in ("/v1", ""):
            app.add_api_route(f"{prefix}/images/generations", images, methods=["POST"])
            app.add_api_route(f"{prefix}/models", models, methods=["GET"])
            app.add_api_route(f"{prefix}/chat/completions", chat, methods=["POST"])
            app.add_api_route(f"{prefix}/completions", completions, methods=["POST"])
            app.add_api_route(f"{prefix}/embeddings", embeddings, methods=["POST"])
        return app

    def _tool_answer(self, body: dict[str, Any], created: int, usage: dict[str, int]) -> Response:
        calls = [
            {
                "id": f"call_{i}_{call['name']}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }
            for i, call in enumerate(self.tool_calls)
        ]
        base = {"id": "chatcmpl-standin", "created": created, "model": body.get("model")}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None, "tool_calls": calls}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
            return JSONResponse({**base, "object": "chat.completion", "choices": [choice], "usage": usage})

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"

        async def stream() -> Any:
            yield chunk({"role": "assistant", "content": None})
            for i, call in enumerate(calls):
                head = {**call, "index": i, "function": {"name": call["function"]["name"], "arguments": ""}}
                yield chunk({"tool_calls": [head]})
                arguments = call["function"]["arguments"]
                third = max(1, len(arguments) // 3)
                for start in range(0, len(arguments), third):
                    if self.cut_mid_tool_call and start >= len(arguments) // 2:
                        await asyncio.sleep(0.2)  # what was sent reaches the client before the cut
                        raise ConnectionAbortedError("the stand-in drops the connection mid tool call")
                    piece = {"index": i, "function": {"arguments": arguments[start : start + third]}}
                    yield chunk({"tool_calls": [piece]})
            yield chunk({}, "tool_calls")
            if (body.get("stream_options") or {}).get("include_usage"):
                tail = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                yield f"data: {json.dumps(tail)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")
