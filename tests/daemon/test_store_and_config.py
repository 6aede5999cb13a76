"""The one database and the one settings object."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from roundhouse.daemon.config import DEFAULT_PORT, config_file, data_dir, load_settings
from roundhouse.daemon.store import Store


def test_store_uses_wal_and_versions_each_component(tmp_path: Path) -> None:
    store = Store(tmp_path / "rh.db")
    try:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.schema_version("core") >= 4
        steps = [
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",
            "ALTER TABLE notes ADD COLUMN tag TEXT",
        ]
        assert store.migrate("notes", steps[:1]) == 1
        assert store.migrate("notes", steps) == 2
        assert store.migrate("notes", steps) == 2, "applied migrations never run twice"
        assert [c.name for c in store.db["notes"].columns] == ["id", "text", "tag"]
    finally:
        store.close()
    reopened = Store(tmp_path / "rh.db")
    try:
        assert reopened.schema_version("notes") == 2
    finally:
        reopened.close()


def test_a_failed_migration_leaves_the_version_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "rh.db")
    try:
        with pytest.raises(sqlite3.OperationalError):
            store.migrate("broken", ["CREATE TABLE ok_table (x)", "THIS IS NOT SQL"])
        assert store.schema_version("broken") == 1
    finally:
        store.close()


def test_all_writes_go_through_one_writer_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "rh.db")
    store.migrate("t", ["CREATE TABLE hits (n INTEGER, thread TEXT)"])

    async def many() -> None:
        await asyncio.gather(
            *(
                store.write(
                    lambda db, i=i: db["hits"].insert({"n": i, "thread": threading.current_thread().name})
                )
                for i in range(200)
            )
        )

    try:
        asyncio.run(many())
        rows = list(store.db.query("SELECT n, thread FROM hits"))
        assert sorted(r["n"] for r in rows) == list(range(200))
        assert {r["thread"] for r in rows} == {"store-writer"}
    finally:
        store.close()


def test_settings_precedence_defaults_file_env(rh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.server.host == "127.0.0.1" and defaults.server.port == DEFAULT_PORT
    assert DEFAULT_PORT not in (11434, 1234, 1337, 4000, 8080)
    assert config_file() == rh_home / "config" / "config.toml"
    assert data_dir() == rh_home / "data"
    config_file().parent.mkdir(parents=True)
    config_file().write_text(
        "[server]\nport = 9123\nmax_body_bytes = 2048\n[embedded]\ncontext_length = 1024\n"
    )
    from_file = load_settings()
    assert from_file.server.port == 9123 and from_file.embedded.context_length == 1024
    monkeypatch.setenv("ROUNDHOUSE_SERVER__PORT", "9555")
    from_env = load_settings()
    assert from_env.server.port == 9555 and from_env.server.max_body_bytes == 2048


def test_bad_settings_say_what_is_wrong(rh_home: Path) -> None:
    config_file().parent.mkdir(parents=True)
    config_file().write_text("[server]\nport = 70000\n")
    with pytest.raises(ValidationError) as caught:
        load_settings()
    assert "server.port" in str(caught.value)
    config_file().write_text('[[openai_compat]]\nname = "lmstudio"\nbase_url = "localhost:1234/v1"\n')
    with pytest.raises(ValidationError) as caught:
        load_settings()
    assert "base_url must be an http:// or https:// URL" in str(caught.value)
