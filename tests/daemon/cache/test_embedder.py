"""The embedder's engines with the real all-MiniLM-L6-v2: ONNX Runtime (the default) gives
sentence-transformers' vectors, exports once per model and loads without torch afterwards."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.cache.onnx_engine import FILE_PREFIX, remove_stale

TEXTS = [
    "hi",
    "",
    "   leading and trailing spaces   ",
    "How do I delete a git branch?",
    "naïve café, 東京は日本の首都です。 Ελληνικά 🚀",
    "def merge(a, b):\n    return {**a, **b} if a else dict(b)\n",
    "SELECT name, count(*) FROM requests WHERE ts > ? GROUP BY name;",
    # Far past the 256-token limit: both engines must cut it at the same place.
    " ".join(f"sentence {i} of a very long document about routing and caching." for i in range(120)),
]


@pytest.fixture(scope="module")
def torch_embedder() -> Iterator[Embedder]:
    reference = Embedder(engine="torch", batch_window_ms=None)
    yield reference
    reference.close()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_default_engine_is_onnx(embedder: Embedder) -> None:
    assert embedder.engine == "onnx"
    assert embedder.onnx_engine is not None and embedder.onnx_engine.path.is_file()


def test_onnx_vectors_match_torch_single_and_batched(embedder: Embedder, torch_embedder: Embedder) -> None:
    expected = torch_embedder.encode(TEXTS)
    assert torch_embedder.engine == "torch"

    singles = np.stack([embedder.encode([text])[0] for text in TEXTS])
    batched = embedder.encode(TEXTS)
    assert singles.dtype == batched.dtype == np.float32
    assert batched.shape == (len(TEXTS), embedder.dimensions)
    assert cosines(singles, expected).min() >= 0.9999
    assert cosines(batched, expected).min() >= 0.9999
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_big_batches_keep_their_rows_in_order(embedder: Embedder, torch_embedder: Embedder) -> None:
    # More than one chunk of 64, lengths shuffled, so sorting, chunking and the workers all come
    # into play (texts of about 70 tokens make the chunks hold fewer than 64 rows).
    varied = [*TEXTS[:-1], " ".join(["the gateway routes each prompt to a model"] * 8)]
    texts = [f"{varied[i % len(varied)]} #{i}" for i in range(150)]
    rng = np.random.default_rng(7)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    got = embedder.encode(texts)
    assert got.shape == (150, 384)
    assert cosines(got, torch_embedder.encode(texts)).min() >= 0.9999
    for i in (0, 63, 64, 149):
        assert cosines(got[i : i + 1], embedder.encode([texts[i]])).min() >= 0.9999


def test_a_second_embedder_reuses_the_export(embedder: Embedder, embedder_export_dir: Path) -> None:
    assert embedder.onnx_engine is not None
    path = embedder.onnx_engine.path
    assert path.parent == embedder_export_dir
    before = path.stat()

    second = Embedder(export_dir=embedder_export_dir)
    try:
        second.load()
        assert second.engine == "onnx"
        assert second.onnx_engine is not None
        assert second.onnx_engine.path == path
        assert not second.onnx_engine.exported
        after = path.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert np.array_equal(second.encode(TEXTS[:3]), embedder.encode(TEXTS[:3]))
    finally:
        second.close()


def test_the_export_lives_in_roundhouse_home_and_is_made_once(rh_home: Path) -> None:
    first = Embedder()
    first.load()
    first.close()
    assert first.onnx_engine is not None and first.onnx_engine.exported
    path = first.onnx_engine.path
    assert path.parent == rh_home / "data" / "cache" / "embedder"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    before = path.stat()

    second = Embedder()
    second.load()
    second.close()
    assert second.onnx_engine is not None and not second.onnx_engine.exported
    assert second.onnx_engine.path == path
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_loading_an_existing_export_imports_neither_torch_nor_sentence_transformers(
    embedder: Embedder, embedder_export_dir: Path
) -> None:
    assert embedder.loaded
    script = f"""
import json, sys
from roundhouse.daemon.cache.embedder import Embedder
e = Embedder(export_dir={str(embedder_export_dir)!r}, batch_window_ms=None)
vector = e.encode(["How do I delete a git branch?"])[0]
print(json.dumps({{
    "engine": e.engine,
    "exported": e.onnx_engine.exported,
    "heavy": sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules),
    "vector": vector.tolist(),
}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDHOUSE_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True, env=env
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["engine"] == "onnx" and not result["exported"]
    assert result["heavy"] == []
    expected = embedder.encode(["How do I delete a git branch?"])
    assert cosines(np.asarray([result["vector"]], dtype=np.float32), expected).min() >= 0.9999


def test_a_failed_export_falls_back_to_torch_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the export folder should be")

    with pytest.raises(OSError):
        Embedder(engine="onnx", export_dir=blocked / "embedder").load()

    fallback = Embedder(export_dir=blocked / "embedder", batch_window_ms=None)
    with caplog.at_level(logging.WARNING, logger="roundhouse.daemon.cache.embedder"):
        vectors = fallback.encode(TEXTS[:2])
        fallback.encode(TEXTS[2:4])
    fallback.close()
    assert fallback.engine == "torch"
    assert vectors.shape == (2, 384)
    warnings = [r for r in caplog.records if r.name == "roundhouse.daemon.cache.embedder"]
    assert len(warnings) == 1 and "torch" in warnings[0].getMessage()


def test_old_exports_and_abandoned_temporary_files_are_removed(tmp_path: Path) -> None:
    day = 24 * 3600.0
    current = tmp_path / f"{FILE_PREFIX}current.onnx"
    files = {
        "current": (current, 400 * day),
        "old export": (tmp_path / f"{FILE_PREFIX}old.onnx", 40 * day),
        "recent export": (tmp_path / f"{FILE_PREFIX}other-install.onnx", 2 * day),
        "abandoned temp": (tmp_path / f"{FILE_PREFIX}x.onnx.123-abcd.tmp", 2 * 3600.0),
        "temp being written": (tmp_path / f"{FILE_PREFIX}x.onnx.456-ef01.tmp", 10.0),
        "unrelated": (tmp_path / "notes.onnx", 400 * day),
    }
    now = time.time()
    for path, age in files.values():
        path.write_bytes(b"x")
        os.utime(path, (now - age, now - age))

    remove_stale(current)

    left = {name for name, (path, _) in files.items() if path.exists()}
    assert left == {"current", "recent export", "temp being written", "unrelated"}
