"""Stand-ins for the inference engines a fleet host may run, each speaking its documented API
on a real loopback socket and keeping the state that API reports:

  LlamaSwapStandin       llama-swap: GET /running, GET /v1/models, the unload calls, and
                         /upstream/<model>/ (which starts the model, as in llama-swap)
  LlamaCppServerStandin  llama-server with one model: GET /health, /v1/models, /metrics
  LlamaCppRouterStandin  llama-server in router mode: GET /models with `status` objects,
                         POST /models/load and /models/unload (answered at once, the load then
                         passing through "loading"), GET /health
  LMStudioStandin        LM Studio: GET /api/v1/models (0.4+) with load and unload,
                         GET /api/v0/models, GET /v1/models
  VllmStandin            vLLM: GET /v1/models, GET /metrics (Prometheus text, vLLM's metric
                         names), runtime LoRA adapter loading

All of them can ask for an API key, answer every request with an error status, or answer
late, and record each request's path and Authorization header.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from tests.standins.runner import Standin

GiB = 1024**3


@dataclass
class EngineStandin(Standin):
    api_key: str | None = None
    fail_status: int | None = None  # every request answers this status
    delay_s: float = 0.0  # before every answer
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    public_paths: ClassVar[frozenset[str]] = frozenset()  # answered without the key

    @property
    def url(self) -> str:
        return self.root_url

    def paths(self, method: str = "GET") -> list[str]:
        with self._lock:
            return [path for m, path, _ in self.requests if m == method]

    def authorizations(self) -> list[str | None]:
        with self._lock:
            return [auth for _, _, auth in self.requests]

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Response:
            auth = request.headers.get("authorization")
            with self._lock:
                self.requests.append((request.method, request.url.path, auth))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.fail_status is not None:
                return PlainTextResponse("Internal Server Error", status_code=self.fail_status)
            public = request.url.path in self.public_paths
            if self.api_key is not None and not public and auth != f"Bearer {self.api_key}":
                return _error(401, "Invalid API Key", "authentication_error")
            return await call_next(request)

        return app


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    """The OpenAI error shape that llama-server and vLLM answer with."""
    return JSONResponse({"error": {"code": status, "message": message, "type": kind}}, status_code=status)


# -- llama-swap ------------------------------------------------------------------------


@dataclass
class LlamaSwapStandin(EngineStandin):
    """llama-swap (mostlygeek/llama-swap, internal/server): models are processes it starts on
    the first request for them; `running` maps a model to its process state."""

    models: list[str] = field(default_factory=lambda: ["qwen3-8b", "gemma3-4b"])
    running: dict[str, str] = field(default_factory=dict)

    def _build(self) -> FastAPI:
        app = self._app()

        @app.get("/running")
        async def running() -> dict[str, Any]:
            with self._lock:
                items = sorted(self.running.items())
            return {
                "running": [
                    {
                        "model": model,
                        "state": state,
                        "cmd": f"llama-server --port 9999 -m /models/{model}.gguf",
                        "proxy": "http://127.0.0.1:9999",
                        "ttl": 0,
                        "name": "",
                        "description": "",
                    }
                    for model, state in items
                ]
            }

        @app.get("/v1/models")
        @app.get("/models")
        async def listing() -> dict[str, Any]:
            created = int(time.time())
            with self._lock:
                running = set(self.running)
            return {
                "object": "list",
                "data": [
                    {
                        "id": model,
                        "object": "model",
                        "created": created,
                        "owned_by": "llama-swap",
                        "status": {"value": "loaded" if model in running else "unloaded"},
                    }
                    for model in self.models
                ],
            }

        @app.get("/unload")
        async def unload_all() -> Response:
            with self._lock:
                self.running.clear()
            return PlainTextResponse("OK")

        @app.post("/api/models/unload")
        async def api_unload_all() -> dict[str, str]:
            with self._lock:
                self.running.clear()
            return {"msg": "ok"}

        @app.post("/api/models/unload/{model:path}")
        async def api_unload(model: str) -> Response:
            if model not in self.models:
                return PlainTextResponse("model not found", status_code=404)
            with self._lock:
                self.running.pop(model, None)
            return PlainTextResponse("OK")

        @app.get("/upstream/{rest:path}")
        async def upstream(rest: str) -> Response:
            model = next((m for m in self.models if rest == m or rest.startswith(m + "/")), None)
            if model is None:
                return PlainTextResponse("model not found", status_code=404)
            if rest == model:
                return RedirectResponse(f"/upstream/{model}/", status_code=301)
            with self._lock:
                self.running[model] = "ready"
            return PlainTextResponse(f"upstream {model}: {rest[len(model) :] or '/'}")

        @app.get("/health")
        async def health() -> Response:
            return PlainTextResponse("OK")

        return app


# -- llama.cpp -------------------------------------------------------------------------


@dataclass
class LlamaCppRouterStandin(EngineStandin):
    """llama-server started without a model (tools/server/README.md, "Using multiple models").
    A load answers {"success": true} at once; the model then reads "loading" for
    `loading_listings` listings of GET /models before it reads "loaded"."""

    public_paths: ClassVar[frozenset[str]] = frozenset({"/health"})
    models: list[str] = field(default_factory=lambda: ["ggml-org/gemma-3-4b-it-GGUF:Q4_K_M", "qwen3-8b"])
    loading_listings: int = 2
    broken: set[str] = field(default_factory=set)  # models whose instance exits on load
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    _pending: dict[str, int] = field(default_factory=dict)

    def _status(self, model: str) -> dict[str, Any]:
        args = ["llama-server", "-ctx", "4096"]
        pending = self._pending.get(model)
        if pending is not None:
            if pending > 0:
                self._pending[model] = pending - 1
                return {"value": "loading", "args": args}
            del self._pending[model]
            if model in self.broken:
                self.status[model] = {"value": "unloaded", "args": args, "failed": True, "exit_code": 1}
            else:
                self.status[model] = {"value": "loaded", "args": args}
        return self.status.get(model, {"value": "unloaded"})

    def _build(self) -> FastAPI:
        app = self._app()

        @app.get("/models")
        @app.get("/v1/models")
        async def listing() -> dict[str, Any]:
            created = int(time.time())
            with self._lock:
                data = [
                    {
                        "id": model,
                        "object": "model",
                        "owned_by": "llamacpp",
                        "created": created,
                        "path": f"/models/{model.replace('/', '_')}.gguf",
                        "status": self._status(model),
                        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                    }
                    for model in self.models
                ]
            return {"object": "list", "data": data}

        @app.post("/models/load")
        async def load(request: Request) -> Response:
            model = (await request.json()).get("model")
            if model not in self.models:
                return _error(400, f"model '{model}' not found")
            with self._lock:
                if self.status.get(model, {}).get("value") != "loaded":
                    self._pending[model] = self.loading_listings
            return JSONResponse({"success": True})

        @app.post("/models/unload")
        async def unload(request: Request) -> Response:
            model = (await request.json()).get("model")
            if model not in self.models:
                return _error(400, f"model '{model}' not found")
            with self._lock:
                self._pending.pop(model, None)
                self.status[model] = {"value": "unloaded"}
            return JSONResponse({"success": True})

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            """The router loads the model a request names, if it has to (its autoload)."""
            model = (await request.json()).get("model")
            if model not in self.models:
                return _error(400, f"model '{model}' not found")
            with self._lock:
                self._pending.pop(model, None)
                self.status[model] = {"value": "loaded"}
            return JSONResponse(
                {
                    "id": "chatcmpl-router",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "ok"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
                }
            )

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        return app


@dataclass
class LlamaCppServerStandin(EngineStandin):
    """llama-server started with one model (tools/server/README.md): GET /health answers 503
    while `loading`, GET /metrics 501 unless started with --metrics, GET /models as /v1/models."""

    public_paths: ClassVar[frozenset[str]] = frozenset({"/health"})
    model: str = "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    size: int = 4912898304
    loading: bool = False
    metrics: bool = False
    processing: int = 0
    deferred: int = 0

    def _build(self) -> FastAPI:
        app = self._app()

        def loading() -> JSONResponse:
            return _error(503, "Loading model", "unavailable_error")

        @app.get("/health")
        async def health() -> Response:
            return loading() if self.loading else JSONResponse({"status": "ok"})

        @app.get("/models")
        @app.get("/v1/models")
        async def models() -> Response:
            if self.loading:
                return loading()
            meta = {"vocab_type": 2, "n_vocab": 128256, "n_ctx_train": 131072, "n_embd": 4096}
            meta |= {"n_params": 8030261312, "size": self.size}
            card = {"id": self.model, "object": "model", "created": 1735142223, "owned_by": "llamacpp"}
            return JSONResponse({"object": "list", "data": [card | {"meta": meta}]})

        @app.get("/metrics")
        async def metrics() -> Response:
            if not self.metrics:
                return _error(501, "This server does not support metrics endpoint.", "not_supported_error")
            lines = [
                "# HELP llamacpp:requests_processing Number of requests processing.",
                "# TYPE llamacpp:requests_processing gauge",
                f"llamacpp:requests_processing {self.processing}",
                "# HELP llamacpp:requests_deferred Number of requests deferred.",
                "# TYPE llamacpp:requests_deferred gauge",
                f"llamacpp:requests_deferred {self.deferred}",
            ]
            return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

        return app


# -- LM Studio -------------------------------------------------------------------------


@dataclass
class LMStudioModel:
    key: str
    size_bytes: int = 4 * GiB
    type: str = "llm"


@dataclass
class LMStudioStandin(EngineStandin):
    """LM Studio's server. `rest_api` is which native REST API it has: "v1" (0.4 and later, and
    the v0 one beside it), "v0" (0.3.6 to 0.3.x) or "none" (only the OpenAI-compatible one).
    Like LM Studio, it answers a path it does not know with 200 and an `error` field."""

    models: list[LMStudioModel] = field(
        default_factory=lambda: [LMStudioModel("qwen/qwen3-8b"), LMStudioModel("google/gemma-3-4b", GiB)]
    )
    loaded: set[str] = field(default_factory=set)
    rest_api: str = "v1"

    def _unknown(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {"error": f"Unexpected endpoint or method. ({request.method} {request.url.path})"}
        )

    def _build(self) -> FastAPI:
        app = self._app()

        @app.get("/api/v1/models")
        async def v1_models(request: Request) -> Response:
            if self.rest_api != "v1":
                return self._unknown(request)
            with self._lock:
                loaded = set(self.loaded)
            return JSONResponse(
                {
                    "models": [
                        {
                            "type": m.type,
                            "publisher": m.key.split("/")[0],
                            "key": m.key,
                            "display_name": m.key.split("/")[-1],
                            "architecture": "llama",
                            "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
                            "size_bytes": m.size_bytes,
                            "params_string": "8B",
                            "loaded_instances": (
                                [{"id": m.key, "config": {"context_length": 4096}}] if m.key in loaded else []
                            ),
                            "max_context_length": 32768,
                            "format": "gguf",
                        }
                        for m in self.models
                    ]
                }
            )

        @app.post("/api/v1/models/load")
        async def v1_load(request: Request) -> Response:
            if self.rest_api != "v1":
                return self._unknown(request)
            key = (await request.json()).get("model")
            model = next((m for m in self.models if m.key == key), None)
            if model is None:
                return JSONResponse({"error": f"Model '{key}' not found"}, status_code=404)
            with self._lock:
                self.loaded.add(model.key)
            return JSONResponse(
                {"type": model.type, "instance_id": model.key, "load_time_seconds": 0.5, "status": "loaded"}
            )

        @app.post("/api/v1/models/unload")
        async def v1_unload(request: Request) -> Response:
            if self.rest_api != "v1":
                return self._unknown(request)
            instance = (await request.json()).get("instance_id")
            with self._lock:
                if instance not in self.loaded:
                    return JSONResponse({"error": f"No loaded instance '{instance}'"}, status_code=404)
                self.loaded.discard(instance)
            return JSONResponse({"instance_id": instance})

        @app.get("/api/v0/models")
        async def v0_models(request: Request) -> Response:
            if self.rest_api == "none":
                return self._unknown(request)
            with self._lock:
                loaded = set(self.loaded)
            return JSONResponse(
                {
                    "object": "list",
                    "data": [
                        {
                            "id": m.key,
                            "object": "model",
                            "type": m.type,
                            "publisher": m.key.split("/")[0],
                            "arch": "llama",
                            "compatibility_type": "gguf",
                            "quantization": "Q4_K_M",
                            "state": "loaded" if m.key in loaded else "not-loaded",
                            "max_context_length": 32768,
                        }
                        for m in self.models
                    ],
                }
            )

        @app.get("/v1/models")
        async def openai_models() -> dict[str, Any]:
            return {
                "object": "list",
                "data": [
                    {"id": m.key, "object": "model", "owned_by": "organization_owner"} for m in self.models
                ],
            }

        return app


# -- vLLM ------------------------------------------------------------------------------


@dataclass
class VllmStandin(EngineStandin):
    """`vllm serve` of one model. `running` and `waiting` are its scheduler's requests, split
    over `engines` data-parallel engines in /metrics as vLLM labels them; `legacy_metrics`
    names the KV-cache gauge as vLLM's V0 engine did (vllm:gpu_cache_usage_perc)."""

    model: str = "meta-llama/Llama-3.1-8B-Instruct"
    running: int = 0
    waiting: int = 0
    kv_cache_usage: float = 0.0
    engines: int = 1
    legacy_metrics: bool = False
    metrics_status: int = 200  # 404: a server without vLLM's /metrics; 401: one that locks it
    adapters: dict[str, str] = field(default_factory=dict)  # LoRA name -> path

    def _metrics_text(self) -> str:
        kv_name = "vllm:gpu_cache_usage_perc" if self.legacy_metrics else "vllm:kv_cache_usage_perc"
        gauges = [
            ("vllm:num_requests_running", "Number of requests in model execution batches.", self.running),
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", self.waiting),
        ]
        lines: list[str] = []
        for name, text, total in gauges:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge"]
            for engine in range(self.engines):
                share = total // self.engines + (total % self.engines if engine == 0 else 0)
                lines.append(f'{name}{{engine="{engine}",model_name="{self.model}"}} {float(share)}')
        lines += [f"# HELP {kv_name} KV-cache usage. 1 means 100 percent usage.", f"# TYPE {kv_name} gauge"]
        for engine in range(self.engines):
            lines.append(f'{kv_name}{{engine="{engine}",model_name="{self.model}"}} {self.kv_cache_usage}')
        lines += [
            "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
            "# TYPE vllm:prompt_tokens_total counter",
            f'vllm:prompt_tokens_total{{engine="0",model_name="{self.model}"}} 1234.0',
        ]
        return "\n".join(lines) + "\n"

    def _build(self) -> FastAPI:
        app = self._app()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            created = int(time.time())

            def card(name: str, root: str, parent: str | None) -> dict[str, Any]:
                return {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "vllm",
                    "root": root,
                    "parent": parent,
                    "max_model_len": 8192,
                    "permission": [],
                }

            with self._lock:
                adapters = dict(self.adapters)
            cards = [card(self.model, self.model, None)]
            cards += [card(name, path, self.model) for name, path in adapters.items()]
            return {"object": "list", "data": cards}

        @app.get("/metrics")
        async def metrics() -> Response:
            if self.metrics_status != 200:
                return JSONResponse({"detail": "Not authorized"}, status_code=self.metrics_status)
            return PlainTextResponse(self._metrics_text(), media_type="text/plain; version=0.0.4")

        @app.post("/v1/load_lora_adapter")
        async def load_lora(request: Request) -> Response:
            body = await request.json()
            with self._lock:
                self.adapters[body["lora_name"]] = body["lora_path"]
            return PlainTextResponse(f"Success: LoRA adapter '{body['lora_name']}' added successfully.")

        @app.post("/v1/unload_lora_adapter")
        async def unload_lora(request: Request) -> Response:
            name = (await request.json())["lora_name"]
            with self._lock:
                if self.adapters.pop(name, None) is None:
                    return _error(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
            return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

        @app.get("/health")
        async def health() -> Response:
            return Response(status_code=200)

        return app
