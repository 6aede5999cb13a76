"""Each GGUF file's header is read once per process (seconds for a large file), and requests
that arrive together before it is read wait for that one read instead of each starting their
own. Keyed by path, size and modification time, so a replaced file is read again."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from roundhouse.daemon.residency.estimate import ModelShape, shape_from_gguf


class GGUFShapes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shapes: dict[tuple[str, int, int], ModelShape] = {}
        # Reads of each file's header so far (the residency status shows them).
        self.reads: dict[str, int] = {}

    def shape(self, path: Path) -> ModelShape:
        """The file's shape; blocks while another thread reads the same header."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            known = self._shapes.get(key)
            if known is None:
                self.reads[key[0]] = self.reads.get(key[0], 0) + 1
                known = shape_from_gguf(path)
                self._shapes[key] = known
            return known

    async def shape_async(self, path: Path) -> ModelShape:
        return await asyncio.to_thread(self.shape, path)


SHAPES = GGUFShapes()
