"""How much GPU memory a model will take: weights + KV cache + compute overhead.

The shape comes from GGUF metadata — read from the file with the `gguf` package for local
models, or from Ollama's /api/show `model_info` (the same keys) for Ollama models. The
result is only a first guess: after a load the manager records what was really used and
prefers that (see learned.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIB = 1024**2
# llama.cpp's compute buffers: roughly a fixed part plus a share of the weights.
OVERHEAD_FIXED_BYTES = 160 * MIB
OVERHEAD_WEIGHT_SHARE = 0.05
# Without metadata, assume a KV cache of this many bytes per token of context (8B-class GQA, f16).
FALLBACK_KV_BYTES_PER_TOKEN = 128 * 1024


class ShapeUnknown(ValueError):
    """The metadata lacks the layer/head counts an estimate needs."""


@dataclass(frozen=True, slots=True)
class ModelShape:
    weights_bytes: int
    n_layers: int
    # Sum over layers of kv_heads × (key_length + value_length): KV elements per token.
    kv_elements_per_token: int
    context_length: int = 0
    architecture: str = ""


@dataclass(frozen=True, slots=True)
class Estimate:
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    context: int
    parallel: int
    # True when the figure is what a previous load really used, not a computation.
    learned: bool = False

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "context": self.context,
            "parallel": self.parallel,
            "learned": self.learned,
        }


def _per_layer(value: Any, n_layers: int) -> list[int]:
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value][:n_layers]
    return [int(value)] * n_layers


def shape_from_metadata(meta: Mapping[str, Any], weights_bytes: int) -> ModelShape:
    """From GGUF keys (`general.architecture`, `<arch>.block_count`, `<arch>.attention.*`)."""
    arch = str(meta.get("general.architecture") or "")
    try:
        n_layers = int(meta[f"{arch}.block_count"])
        heads = meta[f"{arch}.attention.head_count"]
        embedding = int(meta[f"{arch}.embedding_length"])
    except (KeyError, TypeError, ValueError) as missing:
        raise ShapeUnknown(f"GGUF metadata for '{arch or '?'}' lacks {missing}") from None
    head_counts = _per_layer(heads, n_layers)
    kv_heads = _per_layer(meta.get(f"{arch}.attention.head_count_kv", heads), n_layers)
    elements = 0
    for layer_heads, layer_kv in zip(head_counts, kv_heads, strict=False):
        default_len = embedding // layer_heads if layer_heads else 0
        key_len = int(meta.get(f"{arch}.attention.key_length") or default_len)
        value_len = int(meta.get(f"{arch}.attention.value_length") or key_len)
        elements += layer_kv * (key_len + value_len)
    return ModelShape(
        weights_bytes=weights_bytes,
        n_layers=n_layers,
        kv_elements_per_token=elements,
        context_length=int(meta.get(f"{arch}.context_length") or 0),
        architecture=arch,
    )


def shape_from_gguf(path: Path) -> ModelShape:
    """Read the header of a local GGUF file (memory-mapped; tensors are not loaded)."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    arch_field = reader.get_field("general.architecture")
    arch = str(arch_field.contents()) if arch_field is not None else ""
    meta: dict[str, Any] = {"general.architecture": arch}
    for name, gguf_field in reader.fields.items():
        if arch and name.startswith(arch + "."):
            meta[name] = gguf_field.contents()
    return shape_from_metadata(meta, path.stat().st_size)


def shape_from_ollama_show(show: Mapping[str, Any], size_bytes: int) -> ModelShape:
    """From Ollama's /api/show answer and the model's size in /api/tags."""
    info = show.get("model_info") or show.get("modelinfo") or {}
    return shape_from_metadata(info, size_bytes)


def estimate(
    shape: ModelShape | None,
    *,
    weights_bytes: int,
    context: int,
    parallel: int = 1,
    kv_bytes_per_element: float = 2.0,
) -> Estimate:
    """Weights + KV cache for `context` tokens in each of `parallel` slots + compute overhead."""
    if shape is not None:
        weights_bytes = shape.weights_bytes or weights_bytes
        kv = int(shape.kv_elements_per_token * context * parallel * kv_bytes_per_element)
    else:
        kv = int(FALLBACK_KV_BYTES_PER_TOKEN * context * parallel * kv_bytes_per_element / 2.0)
    overhead = OVERHEAD_FIXED_BYTES + int(weights_bytes * OVERHEAD_WEIGHT_SHARE)
    return Estimate(weights_bytes, kv, overhead, context, parallel)


def choose_n_gpu_layers(model_estimate: Estimate, free_vram_bytes: int, n_layers: int, headroom: int) -> int:
    """How many layers llama.cpp should offload so the model fits in free VRAM minus headroom.

    Returns -1 (llama.cpp's "all layers") when the whole model fits, else the number of
    repeating layers that fit after the compute overhead, never less than 0.
    """
    if n_layers <= 0:
        return 0
    available = free_vram_bytes - headroom
    if available >= model_estimate.total_bytes:
        return -1
    per_layer = (model_estimate.weights_bytes + model_estimate.kv_cache_bytes) / n_layers
    room = available - model_estimate.overhead_bytes
    if room <= 0 or per_layer <= 0:
        return 0
    return min(n_layers, int(room // per_layer))


def gpu_layers_for(
    shape: ModelShape, *, context: int, free_vram_bytes: int, headroom_bytes: int, has_gpu: bool
) -> int:
    """n_gpu_layers for llama.cpp: 0 without a GPU, else as many layers as free VRAM allows."""
    if not has_gpu:
        return 0
    model = estimate(shape, weights_bytes=shape.weights_bytes, context=context)
    return choose_n_gpu_layers(model, free_vram_bytes, shape.n_layers, headroom_bytes)
