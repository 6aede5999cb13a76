"""The one SQLite database: WAL, versioned migrations per component, one writer thread.

Reads use `store.db` (or `await store.read(fn)`); every write goes through the writer thread
(`await store.write(fn)` or fire-and-forget `store.submit(fn)`) so the request path never
waits on the disk and there is exactly one writer.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from pydantic_core import to_json

from roundhouse.daemon.startup_errors import StartupError

log = logging.getLogger(__name__)
T = TypeVar("T")
Migration = str | Callable[[sqlite_utils.Database], None]
OPENED_LABEL = "opened"
_PendingRow = tuple[str, dict[str, Any] | Callable[[], dict[str, Any]], Future[None]]

CORE_MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        app TEXT NOT NULL,
        dialect TEXT NOT NULL,
        endpoint TEXT,
        model_asked TEXT,
        model_used TEXT,
        backend TEXT,
        tier TEXT,
        route_json TEXT,
        tokens_in INTEGER DEFAULT 0,
        tokens_out INTEGER DEFAULT 0,
        latency_ms REAL,
        ttft_ms REAL,
        status INTEGER,
        error_kind TEXT,
        cost_usd REAL DEFAULT 0,
        cache TEXT,
        cascade TEXT,
        chat_id TEXT
    )
    """,
    "CREATE INDEX requests_ts ON requests(ts)",
    "CREATE INDEX requests_app_ts ON requests(app, ts)",
    """
    CREATE TABLE app_tokens (
        name TEXT PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        created REAL NOT NULL
    )
    """,
    # Scopes: tokens made before scopes existed are app tokens (inference and their own rows).
    "ALTER TABLE app_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'app'",
    # Images a request made (POST /v1/images/generations); budgets count them.
    "ALTER TABLE requests ADD COLUMN images INTEGER DEFAULT 0",
]


def _connect(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


class StoreError(StartupError):
    pass


def backups_of(path: Path) -> list[Path]:
    """The copies `migrate` kept of the database at `path`, newest first."""
    found = [
        p
        for p in path.parent.glob(glob.escape(path.name) + ".bak-*")
        if p.is_file() and not p.name.endswith(".partial")
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _refuse_emptied(path: Path) -> None:
    """An empty file where a database with data used to be is a loss, not a fresh start."""
    if not path.is_file() or path.stat().st_size:
        return
    kept = [p for p in backups_of(path) if p.stat().st_size]
    if kept:
        raise StoreError(
            f"the database {path} is empty (0 bytes) but a copy with data exists at {kept[0]}: "
            f"to restore it, copy that file over {path.name}; to start afresh, delete {path.name} "
            "and its .bak-* copies"
        )


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        _refuse_emptied(path)
        had_data = path.is_file() and path.stat().st_size > 0
        try:
            self._writer_db = _connect(path)
            self._reader_db = _connect(path)
            self._writer_db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated REAL NOT NULL)"
            )
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None
        self._jobs: queue.SimpleQueue[tuple[Callable[[sqlite_utils.Database], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        # Rows appended on the request path and not yet taken by the writer (see `append`).
        self._batch: list[_PendingRow] | None = None
        self._pending_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_writer, name="store-writer", daemon=True)
        self._thread.start()
        try:
            self.migrate("core", CORE_MIGRATIONS)
            if had_data and not backups_of(path):
                # A database no migration has copied yet: without a copy, an emptied file
                # could not be told from a fresh start.
                self.write_sync(lambda db: self._back_up(db, OPENED_LABEL))
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: sqlite3.DatabaseError) -> StoreError:
        kept = backups_of(self.path)
        restore = f"restore the copy {kept[0]} over it" if kept else "restore it from your own backup"
        return StoreError(
            f"the database {self.path} cannot be read ({exc}): it is damaged or not a Roundhouse "
            f"database; {restore}, or move it away to start with an empty one"
        )

    @property
    def db(self) -> sqlite_utils.Database:
        """A connection for reads (WAL lets it read while the writer writes)."""
        return self._reader_db

    def _run_writer(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with self._writer_db.conn:
                    result = fn(self._writer_db)
            except BaseException as exc:  # reported to whoever waits on it
                future.set_exception(exc)
            else:
                future.set_result(result)

    def append(self, table: str, row: dict[str, Any] | Callable[[], dict[str, Any]]) -> Future[None]:
        """Queue one row for `table`, or a function the writer calls to build it (the caller's
        thread then pays nothing for the building); the future is done once the row is committed.
        The writer commits at once, and the rows that arrive while it is busy are written
        together in its next transaction (group commit): a busy request path costs one
        transaction per writer turn rather than per request, and nobody waits a batch window.
        Later writes and reads through the writer see them."""
        committed: Future[None] = Future()
        with self._pending_lock:
            batch = self._batch
            first = batch is None
            if batch is None:
                batch = self._batch = []
            batch.append((table, row, committed))
        if first:
            self.submit(lambda db: self._flush_pending(db, batch)).add_done_callback(
                lambda job: _settle(batch, job)
            )
        return committed

    def _flush_pending(self, db: sqlite_utils.Database, batch: list[_PendingRow]) -> int:
        with self._pending_lock:
            if self._batch is batch:
                self._batch = None  # rows from now on go to the next transaction
        # Grouped by table and columns, written with one prepared statement per group. This
        # runs on every request's row: sqlite-utils' insert_all costs twice the CPU per row
        # (it re-reads the table's shape on each call), and on a small machine that CPU is
        # taken from the requests being served.
        groups: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = {}
        for table, entry, _ in batch:
            if callable(entry):
                try:
                    row = entry()
                except Exception:  # one bad row must not cost the batch
                    log.exception("store: building a %s row failed", table)
                    continue
            else:
                row = entry
            groups.setdefault((table, tuple(row)), []).append([_sql_value(value) for value in row.values()])
        for (table, columns), params in groups.items():
            names = ", ".join(f'"{name}"' for name in columns)
            marks = ", ".join("?" * len(columns))
            db.conn.executemany(f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({marks})', params)
        return len(batch)

    def submit(self, fn: Callable[[sqlite_utils.Database], T]) -> Future[T]:
        """Queue a write; returns at once. Errors are logged if nobody waits on the future."""
        future: Future[T] = Future()
        future.add_done_callback(_log_failure)
        self._jobs.put((fn, future))
        return future

    async def write(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def write_sync(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        return self.submit(fn).result()

    async def read(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        return await asyncio.to_thread(fn, self._reader_db)

    def schema_version(self, component: str) -> int:
        rows = list(self.db.query("SELECT version FROM schema_versions WHERE component = ?", [component]))
        return int(rows[0]["version"]) if rows else 0

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Apply the migrations of `component` that have not run yet; returns the new version."""

        def apply(db: sqlite_utils.Database) -> int:
            rows = list(db.query("SELECT version FROM schema_versions WHERE component = ?", [component]))
            current = int(rows[0]["version"]) if rows else 0
            if 0 < current < len(migrations):
                self._back_up(db, f"{component}-v{current}")
            for version, step in enumerate(migrations, start=1):
                if version <= current:
                    continue
                if callable(step):
                    step(db)
                else:
                    db.execute(step)
                db.execute(
                    "INSERT INTO schema_versions(component, version, updated) VALUES (?, ?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version, "
                    "updated = excluded.updated",
                    [component, version, time.time()],
                )
                log.info("store: %s schema at version %d", component, version)
            return max(current, len(migrations))

        return self.write_sync(apply)

    def _back_up(self, db: sqlite_utils.Database, label: str) -> None:
        """A consistent copy of the whole database beside it, before a migration changes it."""
        target = self.path.with_name(f"{self.path.name}.bak-{label}")
        partial = target.with_name(target.name + ".partial")
        copy = sqlite3.connect(str(partial))
        try:
            db.conn.backup(copy)
        finally:
            copy.close()
        partial.replace(target)
        if label != OPENED_LABEL:  # a newer copy than the one kept when it was first opened
            self.path.with_name(f"{self.path.name}.bak-{OPENED_LABEL}").unlink(missing_ok=True)
        log.info("store: kept a copy of the database at %s", target)

    def close(self) -> None:
        self._jobs.put(None)  # after any batch's flush, which is queued with its first row
        self._thread.join(timeout=10)
        self._writer_db.close()
        self._reader_db.close()


def _sql_value(value: Any) -> Any:
    """What sqlite-utils would store: JSON text for dicts and lists, the value otherwise."""
    if isinstance(value, dict | list | tuple):
        return to_json(value, fallback=repr).decode()
    return value


def _settle(batch: list[_PendingRow], job: Future[int]) -> None:
    """Tell each row's waiter how its transaction ended (the job is done once it committed)."""
    error = None if job.cancelled() else job.exception()
    for _, _, committed in batch:
        if error is None:
            committed.set_result(None)
        else:
            committed.set_exception(error)


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("store write failed: %s", future.exception())
