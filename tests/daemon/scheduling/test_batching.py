"""Micro-batching of embeddings, with the real all-MiniLM-L6-v2."""

from __future__ import annotations

import asyncio

import numpy as np

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.scheduling.batching import MicroBatcher


async def test_concurrent_embed_calls_are_encoded_as_one_batch_with_correct_rows(embedder: Embedder) -> None:
    texts = [f"question number {i} about cats" for i in range(32)]
    before = embedder.batch_stats()
    results = await asyncio.gather(*(embedder.embed([t]) for t in texts))
    after = embedder.batch_stats()
    assert after["texts"] - before["texts"] == 32
    assert after["batches"] - before["batches"] <= 2
    expected = embedder.encode(texts)
    for i, row in enumerate(results):
        assert row.shape == (1, 384)
        assert np.allclose(row[0], expected[i], atol=1e-4)


async def test_each_caller_gets_its_own_rows_and_errors_reach_the_batch() -> None:
    calls: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        calls.append(items)
        if -1 in items:
            raise ValueError("bad item")
        return [2 * x for x in items]

    batcher: MicroBatcher[int, list[int]] = MicroBatcher(double, window_s=0.01, max_batch=100)
    results = await asyncio.gather(batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5, 6]))
    assert results == [[2, 4], [6], [8, 10, 12]]
    assert len(calls) <= 2
    outcome = await asyncio.gather(batcher.submit([-1]), batcher.submit([7]), return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcome)
    assert await batcher.submit([8]) == [16]
