"""A config or database the daemon cannot use stops `roundhoused serve` with one clear line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from roundhouse.daemon.store import Store, StoreError
from tests.standins.runner import free_port

ROUNDHOUSED = str(Path(sys.executable).parent / "roundhoused")


def serve(rh_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROUNDHOUSED, "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false"},
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_config(rh_home: Path, text: str) -> Path:
    path = rh_home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_typo_in_the_config_is_named_with_its_file(rh_home: Path) -> None:
    path = write_config(rh_home, '[server]\nport = 8719\n\n[routnig]\nmode = "local"\n')
    line = one_line_error(serve(rh_home))
    assert "unknown key 'routnig'" in line and f"{path}, line 4" in line
    write_config(rh_home, '[server]\nallowed_hostz = ["box.lan"]\n')
    assert "unknown key 'server.allowed_hostz'" in one_line_error(serve(rh_home))


def test_bad_toml_and_wrong_types_name_the_file_and_line(rh_home: Path) -> None:
    path = write_config(rh_home, "[server]\nport = 8719\nhost = 127.0.0.1\n")
    line = one_line_error(serve(rh_home))
    assert str(path) in line and "line 3" in line
    write_config(rh_home, '[server]\nport = "eighty"\n')
    line = one_line_error(serve(rh_home))
    assert "server.port" in line and f"{path}, line 2" in line


def test_environment_settings_still_work(rh_home: Path) -> None:
    write_config(rh_home, "[server]\nport = 9000\n")
    env = {**os.environ, "ROUNDHOUSE_SERVER__PORT": "not-a-port"}
    result = subprocess.run([ROUNDHOUSED, "serve"], capture_output=True, text=True, timeout=120, env=env)
    assert "ROUNDHOUSE_SERVER__PORT" in one_line_error(result)


def test_a_corrupt_database_names_its_path(rh_home: Path) -> None:
    db = rh_home / "data" / "roundhouse.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database, it was overwritten by something else" * 100)
    line = one_line_error(serve(rh_home))
    assert str(db) in line and "move it away" in line


def test_an_emptied_database_with_a_backup_is_not_replaced(rh_home: Path) -> None:
    db = rh_home / "data" / "roundhouse.db"
    store = Store(db)
    store.migrate("notes", ["CREATE TABLE notes (text TEXT)"])
    store.write_sync(lambda d: d["notes"].insert({"text": "kept"}))
    store.close()
    # A new version of a component: the database is copied before it is migrated.
    store = Store(db)
    store.migrate("notes", ["CREATE TABLE notes (text TEXT)", "ALTER TABLE notes ADD COLUMN tag TEXT"])
    store.close()
    backup = db.with_name("roundhouse.db.bak-notes-v1")
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    copy.close()
    db.write_bytes(b"")
    with pytest.raises(StoreError) as caught:
        Store(db)
    assert str(backup) in str(caught.value) and "0 bytes" in str(caught.value)
    line = one_line_error(serve(rh_home))
    assert str(backup) in line and "restore" in line
    assert db.stat().st_size == 0, "the empty file was left for the user to decide"


def test_an_emptied_database_that_no_migration_copied_is_not_replaced(rh_home: Path) -> None:
    db = rh_home / "data" / "roundhouse.db"
    store = Store(db)
    store.migrate("notes", ["CREATE TABLE notes (text TEXT)"])
    store.write_sync(lambda d: d["notes"].insert({"text": "kept"}))
    store.close()
    Store(db).close()  # opened again by the same version: nothing to migrate
    db.write_bytes(b"")
    with pytest.raises(StoreError) as caught:
        Store(db)
    backup = db.with_name("roundhouse.db.bak-opened")
    assert str(backup) in str(caught.value) and "0 bytes" in str(caught.value)
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    copy.close()
