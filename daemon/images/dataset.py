"""Every image made here, kept as a dataset: prompt, workflow, seed, the image file and its
score. The user rates images (tray, dashboard, control API); the image trainer reads what
scored well. Images of private prompts are kept only as files for their URLs, never in the
dataset: they are not rated, trained on or exported."""

from __future__ import annotations

import io
import json
import secrets
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from roundhouse.daemon.store import Store

COMPONENT = "images"
MIGRATIONS = [
    """
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        request_id TEXT,
        app TEXT,
        source TEXT NOT NULL,
        prompt TEXT,
        negative_prompt TEXT,
        workflow TEXT,
        checkpoint TEXT,
        model TEXT,
        seed INTEGER,
        steps INTEGER,
        width INTEGER,
        height INTEGER,
        file TEXT NOT NULL,
        private INTEGER NOT NULL DEFAULT 0,
        score REAL,
        variant_of TEXT
    )
    """,
    "CREATE INDEX images_ts ON images(ts)",
]


@dataclass(slots=True)
class ImageRecord:
    id: str
    ts: float
    source: str  # "request" (a client asked) or "trainer" (the image trainer's variant)
    file: str
    request_id: str | None = None
    app: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    workflow: str | None = None
    checkpoint: str | None = None
    model: str | None = None
    seed: int | None = None
    steps: int | None = None
    width: int | None = None
    height: int | None = None
    private: bool = False
    score: float | None = None
    variant_of: str | None = None

    def public(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("file")
        if self.private:
            row["prompt"] = row["negative_prompt"] = None
        return row


class ImageDataset:
    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        store.migrate(COMPONENT, MIGRATIONS)

    def path(self, record: ImageRecord) -> Path:
        return self.folder / record.file

    async def add(self, data: bytes, **fields: Any) -> ImageRecord:
        record = ImageRecord(id="img-" + secrets.token_hex(8), ts=time.time(), file="", **fields)
        record.file = f"{record.id}.png"
        if record.private:
            record.prompt = record.negative_prompt = None  # the file serves its URL; nothing more
        (self.folder / record.file).write_bytes(data)
        row = asdict(record)
        row["private"] = int(record.private)
        await self.store.write(lambda db: db["images"].insert(row))
        return record

    def get(self, image_id: str) -> ImageRecord | None:
        rows = list(self.store.db.query("SELECT * FROM images WHERE id = ?", [image_id]))
        return _record(rows[0]) if rows else None

    def recent(
        self, limit: int = 50, *, source: str | None = None, rated: bool | None = None
    ) -> list[ImageRecord]:
        where = ["private = 0"]
        params: list[Any] = []
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if rated is not None:
            where.append("score IS NOT NULL" if rated else "score IS NULL")
        sql = f"SELECT * FROM images WHERE {' AND '.join(where)} ORDER BY ts DESC LIMIT ?"
        return [_record(r) for r in self.store.db.query(sql, [*params, limit])]

    async def rate(self, image_id: str, score: float) -> ImageRecord | None:
        def update(db: Any) -> int:
            return int(
                db.execute(
                    "UPDATE images SET score = ? WHERE id = ? AND private = 0", [score, image_id]
                ).rowcount
            )

        if not await self.store.write(update):
            return None
        return self.get(image_id)

    def counts(self) -> dict[str, int]:
        row = next(
            self.store.db.query(
                "SELECT count(*) AS total, sum(score IS NOT NULL) AS rated, "
                "sum(source = 'trainer') AS trainer FROM images WHERE private = 0"
            )
        )
        return {k: int(row[k] or 0) for k in ("total", "rated", "trainer")}

    def export(self) -> bytes:
        """A zip of the dataset: `dataset.jsonl` (one row per image) and the image files."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
            lines = []
            for record in self.recent(limit=1_000_000):
                path = self.path(record)
                if not path.is_file():
                    continue
                archive.write(path, f"images/{record.file}")
                lines.append(json.dumps({**record.public(), "image": f"images/{record.file}"}))
            archive.writestr("dataset.jsonl", "\n".join(lines) + ("\n" if lines else ""))
        return buffer.getvalue()


def _record(row: dict[str, Any]) -> ImageRecord:
    row = dict(row)
    row["private"] = bool(row["private"])
    return ImageRecord(**row)
