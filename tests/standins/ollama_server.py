"""A stand-in Ollama server: Ollama's documented HTTP API on a real socket, scripted.

It answers /api/version, /api/tags, /api/ps, /api/show, /api/chat, /api/generate (including
the load-only and keep_alive 0 unload forms), /api/embed, /api/embeddings, the model management
calls (/api/pull, /api/push and /api/create with NDJSON progress, /api/copy, DELETE /api/delete)
with streams shaped like Ollama's, keeps a loaded-model table like Ollama's scheduler, and
records every request body so tests can check what really reached it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.standins.runner import Standin

GiB = 1024**3


@dataclass
class FakeModel:
    name: str
    size: int = 2 * GiB
    family: str = "llama"
    parameter_size: str = "8B"
    quantization: str = "Q4_K_M"
    block_count: int = 32
    head_count_kv: int = 8
    head_count: int = 32
    embedding_length: int = 4096
    context_length: int = 8192
    # Bytes that fit on the GPU when loaded (less than size means a spill to system RAM).
    vram: int | None = None
    embedding: bool = False


@dataclass
class OllamaStandin(Standin):
    models: list[FakeModel] = field(default_factory=lambda: [FakeModel("llama3.1:8b")])
    version: str = "0.12.6"
    token_delay_s: float = 0.0
    load_delay_s: float = 0.0
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Scripted failures: each entry (status, message) answers the next chat/generate call.
    failures: list[tuple[int, str]] = field(default_factory=list)
    streams_started: int = 0
    streams_finished: int = 0
    streams_cancelled: int = 0
    # /api/pull: how many download steps, the pause between them, names that do not exist.
    pull_steps: int = 4
    pull_step_delay_s: float = 0.05
    pull_missing: set[str] = field(default_factory=set)
    pulls_started: int = 0
    pulls_finished: int = 0
    pulls_cancelled: int = 0

    @property
    def url(self) -> str:
        return self.root_url

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for p, body in self.requests if p == path]

    # -- behaviour ---------------------------------------------------------------------
    def _model(self, name: str) -> FakeModel | None:
        for model in self.models:
            if name in (model.name, model.name.removesuffix(":latest")):
                return model
        return None

    def _load(self, model: FakeModel, keep_alive: Any) -> None:
        seconds = 300.0
        if isinstance(keep_alive, (int, float)):
            seconds = float(keep_alive)
        elif isinstance(keep_alive, str) and keep_alive[:-1].isdigit():
            seconds = float(keep_alive[:-1]) * {"s": 1, "m": 60, "h": 3600}.get(keep_alive[-1], 1)
        expires = datetime.now(UTC) + timedelta(seconds=seconds if seconds >= 0 else 10**7)
        self.loaded[model.name] = {
            "name": model.name,
            "model": model.name,
            "size": model.size,
            "size_vram": model.size if model.vram is None else model.vram,
            "digest": _digest(model.name),
            "details": _details(model),
            "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "context_length": model.context_length,
        }

    def reply_text(self, prompt: str) -> str:
        return f"Stand-in reply to: {prompt[:60]}"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            body: dict[str, Any] = {}
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
            with self._lock:
                self.requests.append((request.url.path, body))
            return await call_next(request)

        @app.get("/api/version")
        async def version() -> dict[str, str]:
            return {"version": self.version}

        @app.get("/api/tags")
        async def tags() -> dict[str, Any]:
            return {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "modified_at": "2026-11-01T10:00:00Z",
                        "size": m.size,
                        "digest": _digest(m.name),
                        "details": _details(m),
                    }
                    for m in self.models
                ]
            }

        @app.get("/api/ps")
        async def ps() -> dict[str, Any]:
            return {"models": list(self.loaded.values())}

        @app.post("/api/show")
        async def show(request: Request) -> Response:
            body = await request.json()
            model = self._model(body.get("model") or body.get("name") or "")
            if model is None:
                return JSONResponse({"error": f"model '{body.get('model')}' not found"}, status_code=404)
            arch = model.family
            return JSONResponse(
                {
                    "license": "",
                    "modelfile": f"FROM {model.name}",
                    "parameters": "",
                    "template": "{{ .Prompt }}",
                    "details": _details(model),
                    "model_info": {
                        "general.architecture": arch,
                        "general.parameter_count": 8_000_000_000,
                        f"{arch}.block_count": model.block_count,
                        f"{arch}.context_length": model.context_length,
                        f"{arch}.embedding_length": model.embedding_length,
                        f"{arch}.attention.head_count": model.head_count,
                        f"{arch}.attention.head_count_kv": model.head_count_kv,
                    },
                    "capabilities": ["embedding"] if model.embedding else ["completion", "tools"],
                    "modified_at": "2026-11-01T10:00:00Z",
                }
            )

        async def answer(path: str, body: dict[str, Any]) -> Response:
            name = body.get("model", "")
            model = self._model(name)
            if model is None:
                return JSONResponse(
                    {"error": f"model '{name}' not found, try pulling it first"}, status_code=404
                )
            if self.failures:
                status, message = self.failures.pop(0)
                return JSONResponse({"error": message}, status_code=status)
            is_chat = path == "/api/chat"
            empty = not body.get("messages") if is_chat else not body.get("prompt")
            keep_alive = body.get("keep_alive")
            if empty:
                if keep_alive in (0, "0", "0s"):
                    self.loaded.pop(model.name, None)
                    reason = "unload"
                else:
                    if self.load_delay_s:
                        await asyncio.sleep(self.load_delay_s)
                    self._load(model, keep_alive)
                    reason = "load"
                done = {"model": model.name, "created_at": _now(), "done": True, "done_reason": reason}
                done["message" if is_chat else "response"] = (
                    {"role": "assistant", "content": ""} if is_chat else ""
                )
                return JSONResponse(done)
            if model.name not in self.loaded:
                if self.load_delay_s:
                    await asyncio.sleep(self.load_delay_s)
                self._load(model, keep_alive)
            if is_chat:
                last = next(
                    (m for m in reversed(body["messages"]) if m.get("role") == "user"), {"content": ""}
                )
                prompt = str(last.get("content", ""))
            else:
                prompt = str(body.get("prompt", ""))
            words = self.reply_text(prompt).split(" ")
            limit = (body.get("options") or {}).get("num_predict")
            if isinstance(limit, int) and limit > 0:
                words = words[:limit]
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            tool_calls = None
            if is_chat and body.get("tools"):
                fn = body["tools"][0].get("function", {})
                cities = ["Paris", "Lyon"] if "twice" in prompt else ["Paris"]
                tool_calls = [
                    {"function": {"name": fn.get("name", "tool"), "arguments": {"city": city}}}
                    for city in cities
                ]

            def line(content: str, done: bool) -> dict[str, Any]:
                out: dict[str, Any] = {"model": model.name, "created_at": _now()}
                if is_chat:
                    out["message"] = {"role": "assistant", "content": content}
                    if done and tool_calls:
                        out["message"]["tool_calls"] = tool_calls
                else:
                    out["response"] = content
                out["done"] = done
                if done:
                    out.update(
                        done_reason="stop",
                        total_duration=1_000_000,
                        load_duration=0,
                        prompt_eval_count=len(prompt.split()),
                        prompt_eval_duration=100_000,
                        eval_count=len(pieces),
                        eval_duration=900_000,
                    )
                    if not is_chat:
                        out["context"] = [1, 2, 3]
                return out

            if body.get("stream", True) is False:
                full = line("".join(pieces), True)
                return JSONResponse(full)

            async def stream() -> Any:
                self.streams_started += 1
                try:
                    for piece in pieces:
                        if self.token_delay_s:
                            await asyncio.sleep(self.token_delay_s)
                        yield json.dumps(line(piece, False)) + "\n"
                    yield json.dumps(line("", True)) + "\n"
                    self.streams_finished += 1
                except asyncio.CancelledError:
                    self.streams_cancelled += 1
                    raise

            return StreamingResponse(stream(), media_type="application/x-ndjson")

        @app.post("/api/chat")
        async def chat(request: Request) -> Response:
            return await answer("/api/chat", await request.json())

        @app.post("/api/generate")
        async def generate(request: Request) -> Response:
            return await answer("/api/generate", await request.json())

        @app.post("/api/embed")
        async def embed(request: Request) -> Response:
            body = await request.json()
            if self._model(body.get("model", "")) is None:
                return JSONResponse({"error": f"model '{body.get('model')}' not found"}, status_code=404)
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            return JSONResponse({"model": body["model"], "embeddings": [_vector(t) for t in inputs]})

        @app.post("/api/embeddings")
        async def embeddings(request: Request) -> Response:
            body = await request.json()
            return JSONResponse({"embedding": _vector(body.get("prompt", ""))})

        @app.post("/api/pull")
        async def pull(request: Request) -> Response:
            body = await request.json()
            name = str(body.get("model") or body.get("name") or "")
            if not name or name in self.pull_missing:
                return JSONResponse({"error": "pull model manifest: file does not exist"}, status_code=500)
            if ":" not in name:
                name += ":latest"
            digest = f"sha256:{_digest(name)}"
            total = GiB

            def progress() -> list[dict[str, Any]]:
                lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
                for step in range(1, self.pull_steps + 1):
                    completed = total * step // self.pull_steps
                    lines.append(
                        {
                            "status": f"pulling {digest[7:19]}",
                            "digest": digest,
                            "total": total,
                            "completed": completed,
                        }
                    )
                lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
                return lines

            if body.get("stream", True) is False:
                self._add_pulled(name)
                return JSONResponse({"status": "success"})

            async def stream() -> Any:
                self.pulls_started += 1
                try:
                    for line in progress():
                        yield json.dumps(line) + "\n"
                        await asyncio.sleep(self.pull_step_delay_s)
                    self._add_pulled(name)
                    yield json.dumps({"status": "success"}) + "\n"
                    self.pulls_finished += 1
                except asyncio.CancelledError:
                    self.pulls_cancelled += 1
                    raise

            return StreamingResponse(stream(), media_type="application/x-ndjson")

        def statuses(lines: list[dict[str, Any]], stream: bool) -> Response:
            if not stream:
                return JSONResponse({"status": "success"})
            text = "".join(json.dumps(line) + "\n" for line in [*lines, {"status": "success"}])
            return Response(text, media_type="application/x-ndjson")

        def not_found(name: str) -> Response:
            return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)

        @app.post("/api/create")
        async def create(request: Request) -> Response:
            body = await request.json()
            name = str(body.get("model") or "")
            base = self._model(str(body.get("from") or ""))
            if not name:
                return JSONResponse({"error": "missing model name"}, status_code=400)
            if base is None:
                return not_found(str(body.get("from") or ""))
            with self._lock:
                if self._model(name) is None:
                    self.models.append(replace(base, name=name if ":" in name else name + ":latest"))
            lines = [
                {"status": "using existing layer sha256:" + _digest(base.name)},
                {"status": "writing manifest"},
            ]
            return statuses(lines, body.get("stream", True) is not False)

        @app.post("/api/copy")
        async def copy(request: Request) -> Response:
            body = await request.json()
            source = self._model(str(body.get("source") or ""))
            destination = str(body.get("destination") or "")
            if source is None:
                return not_found(str(body.get("source") or ""))
            with self._lock:
                if self._model(destination) is None:
                    name = destination if ":" in destination else destination + ":latest"
                    self.models.append(replace(source, name=name))
            return Response(status_code=200)

        @app.delete("/api/delete")
        async def delete(request: Request) -> Response:
            body = await request.json()
            name = str(body.get("model") or body.get("name") or "")
            model = self._model(name)
            if model is None:
                return not_found(name)
            with self._lock:
                self.models.remove(model)
            return Response(status_code=200)

        @app.post("/api/push")
        async def push(request: Request) -> Response:
            body = await request.json()
            model = self._model(str(body.get("model") or ""))
            if model is None:
                return not_found(str(body.get("model") or ""))
            digest = f"sha256:{_digest(model.name)}"
            lines = [
                {"status": "retrieving manifest"},
                {"status": "starting upload", "digest": digest, "total": model.size},
                {"status": "pushing manifest"},
            ]
            return statuses(lines, body.get("stream", True) is not False)

        return app

    def _add_pulled(self, name: str) -> None:
        with self._lock:
            if self._model(name) is None:
                self.models.append(FakeModel(name, size=GiB))


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _details(model: FakeModel) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model.family,
        "families": [model.family],
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization,
    }


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:8]]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
