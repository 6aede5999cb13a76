"""The in-memory vector index: exact results from the two-pass search of large scopes."""

from __future__ import annotations

import numpy as np

from roundhouse.daemon.cache.semantic_index import COARSE_FROM_ROWS, SemanticIndex


def unit_rows(n: int, seed: int = 3) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, 384)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_large_scope_search_matches_exact_search_and_survives_removals() -> None:
    rows = unit_rows(COARSE_FROM_ROWS + 500)
    index = SemanticIndex(384)
    for i, row in enumerate(rows):
        index.add(f"e{i}", "scope", row)
    for removed in range(0, 400, 7):
        index.remove(f"e{removed}")
    alive = [i for i in range(len(rows)) if not (i < 400 and i % 7 == 0)]
    for probe in (3, 1000, COARSE_FROM_ROWS + 10):
        query = rows[probe] + 0.3 * unit_rows(1, seed=probe)[0]
        query /= np.linalg.norm(query)
        exact = sorted(((float(rows[i] @ query), f"e{i}") for i in alive), reverse=True)[:5]
        found = index.search("scope", query, 5)
        assert [name for name, _ in found] == [name for _, name in exact]
        assert np.allclose([s for _, s in found], [s for s, _ in exact], atol=1e-5)
    assert index.search("other scope", rows[0], 5) == []
