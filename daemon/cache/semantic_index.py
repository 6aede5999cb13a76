"""Prompt vectors in memory, grouped by scope; cosine similarity is a dot product.

Large scopes are searched in two passes: a bfloat16 copy of the matrix finds a short list
(half the memory of float32 to read, and torch's bf16 kernels are fast on
CPU), then the float32 rows of that short list give the exact similarities that the
thresholds are compared with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Below this many rows a plain float32 product is already fast.
COARSE_FROM_ROWS = 4096
SHORTLIST_FACTOR = 4


class _ScopeRows:
    def __init__(self, dimensions: int) -> None:
        self.matrix = np.zeros((16, dimensions), dtype=np.float32)
        self.ids: list[str] = []
        self.coarse: Any = None  # torch bf16 tensor mirroring `matrix`, once the scope is large

    def add(self, entry_id: str, vector: np.ndarray) -> int:
        row = len(self.ids)
        if row == self.matrix.shape[0]:
            grown = np.zeros((row * 2, self.matrix.shape[1]), dtype=np.float32)
            grown[:row] = self.matrix
            self.matrix = grown
            self.coarse = None
        self.matrix[row] = vector
        self.ids.append(entry_id)
        if self.coarse is not None:
            self.coarse[row] = _bf16(self.matrix[row])
        return row

    def remove(self, row: int) -> str | None:
        """Drop `row` by moving the last row into its place; returns the id that moved."""
        last = len(self.ids) - 1
        moved = None
        if row != last:
            self.matrix[row] = self.matrix[last]
            if self.coarse is not None:
                self.coarse[row] = self.coarse[last]
            self.ids[row] = self.ids[last]
            moved = self.ids[row]
        self.ids.pop()
        return moved

    def similarities(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indices of (up to) the `k` most similar rows and their exact similarities."""
        n = len(self.ids)
        if n < COARSE_FROM_ROWS:
            rows = np.arange(n)
            sims = self.matrix[:n] @ vector
        else:
            import torch

            if self.coarse is None:
                self.coarse = torch.from_numpy(self.matrix).to(torch.bfloat16)
            rough = (self.coarse[:n] @ _bf16(vector)).float()
            rows = torch.topk(rough, min(n, k * SHORTLIST_FACTOR)).indices.numpy()
            sims = self.matrix[rows] @ vector
        if len(rows) > k:
            top = np.argpartition(-sims, k)[:k]
        else:
            top = np.arange(len(rows))
        top = top[np.argsort(-sims[top])]
        return rows[top], sims[top]


def _bf16(vector: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32)).to(torch.bfloat16)


class SemanticIndex:
    def __init__(self, dimensions: int) -> None:
        self._dimensions = dimensions
        self._scopes: dict[str, _ScopeRows] = {}
        self._where: dict[str, tuple[str, int]] = {}  # entry id → (scope, row)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._where

    def add(self, entry_id: str, scope: str, vector: np.ndarray) -> None:
        self.remove(entry_id)
        rows = self._scopes.get(scope)
        if rows is None:
            rows = self._scopes[scope] = _ScopeRows(self._dimensions)
        self._where[entry_id] = (scope, rows.add(entry_id, np.asarray(vector, dtype=np.float32)))

    def remove(self, entry_id: str) -> None:
        place = self._where.pop(entry_id, None)
        if place is None:
            return
        scope, row = place
        rows = self._scopes[scope]
        moved = rows.remove(row)
        if moved is not None:
            self._where[moved] = (scope, row)
        if not rows.ids:
            del self._scopes[scope]

    def vector(self, entry_id: str) -> np.ndarray | None:
        place = self._where.get(entry_id)
        if place is None:
            return None
        scope, row = place
        return self._scopes[scope].matrix[row].copy()

    def search(self, scope: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` nearest entries of `scope`, best first, with exact float32 similarities."""
        rows = self._scopes.get(scope)
        if rows is None or not rows.ids:
            return []
        found, sims = rows.similarities(np.asarray(vector, dtype=np.float32), k)
        return [(rows.ids[int(i)], float(s)) for i, s in zip(found, sims, strict=True)]

    def neighbours(self, vector: np.ndarray, radius: float) -> list[tuple[str, float]]:
        """Every entry, in any scope, at cosine similarity `radius` or more."""
        found: list[tuple[str, float]] = []
        for rows in self._scopes.values():
            sims = rows.matrix[: len(rows.ids)] @ vector
            for i in np.nonzero(sims >= radius)[0]:
                found.append((rows.ids[int(i)], float(sims[int(i)])))
        return found

    def clear(self) -> None:
        self._scopes.clear()
        self._where.clear()
