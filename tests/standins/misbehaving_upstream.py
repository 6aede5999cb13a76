"""An OpenAI-compatible upstream that misbehaves, on a raw loopback socket.

Each model it lists is one way of failing, chosen by the `model` of the request:

  silent     accepts the request and sends nothing, until the client closes the connection
  headers    sends a 200's headers for an SSE stream, then nothing
  trickle    sends one SSE event, then a byte every `trickle_s` (slower than any idle deadline)
  error500   answers 500 with a Python traceback as its body
  ratelimit  answers 429 with `Retry-After: <retry_after_s>` and an OpenAI error body
  badjson    answers 200 with a body that is not JSON
  nodata     answers a 200 SSE stream with comments and events but no `data:` line
  cut        answers a complete 200 SSE body holding half an answer: no finish reason, no `[DONE]`
  ok         answers properly (JSON, or SSE ending in `data: [DONE]`)

It is a plain socket server rather than an ASGI app because the point is what a proper
server never sends: silence after accepting, headers with no body, a body one byte at a time.
Every request is recorded with the model asked and when the client closed its connection.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

MODES = ("silent", "headers", "trickle", "error500", "ratelimit", "badjson", "nodata", "cut", "ok")
REPLY = "Stand-in answer."
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/server.py", line 88, in generate\n'
    "    tokens = model.generate(prompt, secret_key=os.environ['SERVER_SECRET'])\n"
    "RuntimeError: CUDA error: an illegal memory access was encountered\n"
)


@dataclass
class Call:
    model: str
    body: dict[str, Any]
    at: float
    closed_at: float | None = None  # when the client closed its connection (silent modes)


@dataclass
class MisbehavingUpstream:
    retry_after_s: int = 7
    trickle_s: float = 3.0
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        standin = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                standin._serve(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def calls_to(self, model: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.model == model]

    # -- serving --
    def _serve(self, sock: socket.socket) -> None:
        head, body = _read_request(sock)
        if head is None:
            return
        request_line = head.split("\r\n", 1)[0]
        if request_line.startswith("GET ") and request_line.split(" ")[1].endswith("/models"):
            models = {"object": "list", "data": [{"id": m, "object": "model"} for m in MODES]}
            _send(sock, 200, json.dumps(models).encode(), "application/json")
            return
        payload = json.loads(body or b"{}")
        call = Call(str(payload.get("model")), payload, time.monotonic())
        with self._lock:
            self.calls.append(call)
        stream = bool(payload.get("stream"))
        mode = call.model
        if mode == "silent":
            self._until_closed(sock, call)
        elif mode == "headers":
            sock.sendall(_head(200, "text/event-stream"))
            self._until_closed(sock, call)
        elif mode == "trickle":
            sock.sendall(_head(200, "text/event-stream") + _event(_delta(REPLY[:5])))
            for byte in b'data: {"choices": []}\n\n':
                if self._stop.wait(self.trickle_s) or not _still_open(sock):
                    break
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
            call.closed_at = time.monotonic()
        elif mode == "error500":
            _send(sock, 500, TRACEBACK.encode(), "text/plain")
        elif mode == "ratelimit":
            error = {"error": {"message": "Rate limit reached for requests", "type": "rate_limit_error"}}
            extra = f"Retry-After: {self.retry_after_s}\r\n"
            _send(sock, 429, json.dumps(error).encode(), "application/json", extra)
        elif mode == "badjson":
            _send(sock, 200, b'{"choices": [{"message": {"content": "half', "application/json")
        elif mode == "nodata":
            _send(sock, 200, b": keep-alive\n\nevent: ping\n\n: still here\n\n", "text/event-stream")
        elif mode == "cut":
            _send(sock, 200, _event(_delta(REPLY[:5])), "text/event-stream")
        elif stream:
            events = _event(_delta(REPLY)) + _event(_delta("", "stop")) + b"data: [DONE]\n\n"
            _send(sock, 200, events, "text/event-stream")
        else:
            answer = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }
            _send(sock, 200, json.dumps(answer).encode(), "application/json")

    def _until_closed(self, sock: socket.socket, call: Call) -> None:
        while not self._stop.is_set() and _still_open(sock, wait_s=0.05):
            pass
        call.closed_at = time.monotonic()


def _read_request(sock: socket.socket) -> tuple[str | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            return None, b""
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    length = 0
    for line in text.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        part = sock.recv(65536)
        if not part:
            break
        body += part
    return text, body


def _still_open(sock: socket.socket, wait_s: float = 0.0) -> bool:
    """False once the client has closed its end (a read returns nothing)."""
    sock.settimeout(wait_s or 0.001)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except (TimeoutError, BlockingIOError):
        return True
    except OSError:
        return False


def _head(status: int, content_type: str, extra: str = "") -> bytes:
    reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}[status]
    # No length: the body ends when the connection closes (HTTP/1.1 allows it with close).
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


def _send(sock: socket.socket, status: int, body: bytes, content_type: str, extra: str = "") -> None:
    extra += f"Content-Length: {len(body)}\r\n"
    sock.sendall(_head(status, content_type, extra) + body)


def _delta(content: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"
