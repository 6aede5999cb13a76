"""all-MiniLM-L6-v2 on ONNX Runtime, about twice as fast as torch for one short prompt.

The ONNX file is exported once from the packaged weights (the only time torch and
sentence-transformers are imported) into the data directory, named by a fingerprint of the
weights, the torch version and the opset, so a new model or torch re-exports. Afterwards a
load needs only `tokenizers`, onnxruntime and numpy: tokenize from the model's tokenizer.json,
run the graph, mean-pool over the attention mask and L2-normalise, exactly as the model's
sentence-transformers modules (Transformer, mean Pooling, Normalize) do.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

OPSET = 17
# Bump when `export` changes in a way that changes the file it writes.
EXPORT_RECIPE = 1
FILE_PREFIX = "all-minilm-l6-v2-"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
DEFAULT_MAX_SEQ_LENGTH = 256
CHUNK_SIZE = 64  # rows per run for big batches, as sentence-transformers' encode(batch_size=64)
# At most this many tokens per run, padding included. On a CPU a bigger run is no cheaper per
# token, so long texts go in smaller chunks rather than padding 63 short rows to their length.
CHUNK_TOKENS = 4096
STALE_TEMP_S = 3600.0  # a temporary file this old is what a killed export left
# Exports for other weights or torch versions go once this old (from when they were written):
# soon enough to free the space after an upgrade, rarely enough that two installs sharing one
# data directory (a source checkout and the bundle) do not keep re-exporting each other's file.
STALE_EXPORT_S = 30 * 24 * 3600.0


def export_dir() -> Path:
    from roundhouse.daemon.config import data_dir

    return data_dir() / "cache" / "embedder"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"  # a frozen bundle may lack the metadata; it is then the same on every load


def fingerprint(model_dir: Path) -> str:
    """Changes when the weights file, torch, the opset or the export recipe changes."""
    weights = (model_dir / "model.safetensors").stat()
    source = [
        str(model_dir.resolve()),
        str(weights.st_size),
        str(weights.st_mtime_ns),
        f"torch={_version('torch')}",
        f"opset={OPSET}",
        f"recipe={EXPORT_RECIPE}",
    ]
    return hashlib.sha256("\n".join(source).encode()).hexdigest()[:16]


def export_path(model_dir: Path, cache_dir: Path) -> Path:
    return cache_dir / f"{FILE_PREFIX}{fingerprint(model_dir)}.onnx"


def max_seq_length(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or DEFAULT_MAX_SEQ_LENGTH)
    except (OSError, ValueError):
        return DEFAULT_MAX_SEQ_LENGTH


def export(model_dir: Path, target: Path) -> None:
    """Export the transformer (token states; pooling stays in numpy) to `target`, atomically:
    the graph goes to a temporary file that replaces `target` only once complete, so a process
    that exports at the same time, or reads meanwhile, never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    transformer = model[0].auto_model.eval()

    class TokenStates(torch.nn.Module):
        # Transformers 5 takes keyword arguments only; the exporter passes positional ones.
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # Two rows of different lengths, so the traced graph keeps the padding mask in play.
    tokenizer = _tokenizer(model_dir)
    ids, mask = _pad([e.ids for e in tokenizer.encode_batch(["a sample sentence to export with", "short"])])
    sample = (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(np.zeros_like(ids)))
    temp = target.with_name(f"{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
            torch.onnx.export(
                TokenStates(transformer),
                sample,
                str(temp),
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUT_NAMES, OUTPUT_NAME)},
                opset_version=OPSET,
                dynamo=False,
            )
        try:
            os.replace(temp, target)
        except OSError:
            if not target.is_file():
                raise
            # Windows: another process exported it meanwhile and has it open; use theirs.
    finally:
        temp.unlink(missing_ok=True)


def remove_stale(current: Path) -> None:
    """Drop old exports of other weights or torch versions, and what killed exports left."""
    now = time.time()
    for path in current.parent.glob(f"{FILE_PREFIX}*"):
        if path == current:
            continue
        try:
            age = now - path.stat().st_mtime
            if age > (STALE_EXPORT_S if path.suffix == ".onnx" else STALE_TEMP_S):
                path.unlink()
        except OSError:
            pass  # in use elsewhere (Windows) or already gone


def _tokenizer(model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # tokenizer.json pads and truncates to a fixed 128; the model reads up to max_seq_length.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length(model_dir))
    return tokenizer


def _pad(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded with 0 ([PAD]) to the longest row, and the attention mask."""
    width = max(len(r) for r in rows)
    input_ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask


def _chunks(order: list[int], lengths: list[int]) -> list[list[int]]:
    """Cut rows sorted longest first into runs of at most CHUNK_SIZE rows and CHUNK_TOKENS tokens."""
    chunks: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (
            len(current) == CHUNK_SIZE or (len(current) + 1) * lengths[current[0]] > CHUNK_TOKENS
        ):
            chunks.append(current)
            current = []
        current.append(i)
    chunks.append(current)
    return chunks


class OnnxEngine:
    """Tokenizer + ONNX Runtime sessions for one model directory.

    One intra-op thread answers a lone prompt fastest (no hand-offs between threads). Bigger
    batches are sorted by length, cut into chunks of `CHUNK_SIZE` and spread over `threads`
    workers that run the same single-threaded session at once (ONNX Runtime releases the GIL and
    its sessions are safe to run concurrently), which beats intra-op threads for a model this size.
    """

    def __init__(
        self,
        model_dir: str | Path,
        cache_dir: str | Path | None = None,
        *,
        threads: int = 1,
        parallel_min_texts: int = 5,
    ) -> None:
        import onnxruntime  # first, so that without it nothing is exported in vain

        self.model_dir = Path(model_dir)
        self.path = export_path(self.model_dir, Path(cache_dir) if cache_dir is not None else export_dir())
        self.exported = False  # True when this instance ran the one-time export
        self.export_seconds: float | None = None
        self._tokenizer = _tokenizer(self.model_dir)
        if not self.path.is_file():
            self._export()
        try:
            self._session = self._open_session(onnxruntime)
        except Exception:
            if self.exported:
                raise
            # A file this process did not write and cannot load (damaged on disk): export anew.
            log.warning(
                "the exported embedder %s does not load; exporting it again", self.path, exc_info=True
            )
            self.path.unlink(missing_ok=True)
            self._export()
            self._session = self._open_session(onnxruntime)
        self.dimensions = int(self._session.get_outputs()[0].shape[-1])
        remove_stale(self.path)
        self._threads = max(1, threads)
        self._parallel_min_texts = parallel_min_texts
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _export(self) -> None:
        started = time.perf_counter()
        export(self.model_dir, self.path)
        self.exported = True
        self.export_seconds = time.perf_counter() - started
        log.info(
            "exported the embedder to ONNX (once; later loads reuse it) in %.1f s: %s",
            self.export_seconds,
            self.path,
        )

    def _open_session(self, ort: Any) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(self.path), sess_options=options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 rows, in the order of `texts`."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        few = len(texts) < self._parallel_min_texts
        if few:  # stay on this thread, tokenizer included
            ids = [self._tokenizer.encode(text).ids for text in texts]
            if len(ids) == 1:
                return self._run(ids)
        else:
            ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        parallel = self._threads > 1 and not few
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        chunks = _chunks(order, [len(row) for row in ids])
        if parallel and len(chunks) < self._threads:
            # Fewer chunks than workers: split evenly so every core gets a share.
            per = -(-len(order) // self._threads)
            chunks = [order[i : i + per] for i in range(0, len(order), per)]
        out = np.empty((len(ids), self.dimensions), dtype=np.float32)
        if parallel and len(chunks) > 1:
            pool = self._worker_pool()
            results = list(pool.map(lambda chunk: self._run([ids[i] for i in chunk]), chunks))
        else:
            results = [self._run([ids[i] for i in chunk]) for chunk in chunks]
        for chunk, rows in zip(chunks, results, strict=True):
            out[chunk] = rows
        return out

    def _worker_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="embedder-onnx")
            return self._pool

    def _run(self, rows: list[list[int]]) -> np.ndarray:
        input_ids, mask = _pad(rows)
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        (states,) = self._session.run([OUTPUT_NAME], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
