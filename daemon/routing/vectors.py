"""Embeddings of the shipped examples, shipped alongside them so that no daemon has to encode
hundreds of examples at start-up. Regenerate after editing the examples:

    python -m roundhouse.daemon.routing.vectors
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np

from roundhouse.daemon.routing.complexity import EMBED_CHARS, shipped_examples

VECTORS_FILE = "routing/examples.vectors.json"


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shipped_vectors(model_id: str) -> dict[str, np.ndarray]:
    """Example text → vector, for the texts whose vectors were shipped for `model_id`."""
    path = resources.files("roundhouse.resources").joinpath(VECTORS_FILE)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("model") != model_id:
        return {}
    matrix = np.frombuffer(base64.b64decode(data["vectors"]), dtype=np.float16).astype(np.float32)
    matrix = matrix.reshape(len(data["sha"]), int(data["dimensions"]))
    by_sha = dict(zip(data["sha"], matrix, strict=True))
    out: dict[str, np.ndarray] = {}
    for example in shipped_examples():
        text = example.text[:EMBED_CHARS]
        vector = by_sha.get(text_sha(text))
        if vector is not None:
            out[text] = vector / (np.linalg.norm(vector) or 1.0)
    return out


def write(path: Path) -> int:
    from roundhouse.daemon.cache.embedder import Embedder

    embedder = Embedder()
    texts = list(dict.fromkeys(e.text[:EMBED_CHARS] for e in shipped_examples()))
    matrix = embedder.encode(texts).astype(np.float16)
    payload = {
        "model": embedder.model_id,
        "dimensions": int(matrix.shape[1]),
        "sha": [text_sha(t) for t in texts],
        "vectors": base64.b64encode(matrix.tobytes()).decode(),
    }
    path.write_text(json.dumps(payload), encoding="utf-8")
    embedder.close()
    return len(texts)


if __name__ == "__main__":
    target = Path(str(resources.files("roundhouse.resources").joinpath(VECTORS_FILE)))
    print(f"wrote {write(target)} vectors to {target}")
