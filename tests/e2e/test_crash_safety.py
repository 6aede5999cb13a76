"""`kill -9` in the middle of a busy minute: the database opens clean and every answer a client
saw has its ledger row (the ledger may hold rows for answers that were lost, never the reverse)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.standins.openai_server import OpenAIStandin
from tests.standins.runner import free_port

ROUNDHOUSED = str(Path(sys.executable).parent / "roundhoused")
CLIENTS = 20
MAX_REQUESTS = 2000
RUN_S = 2.0


@pytest.fixture
def upstream() -> Iterator[OpenAIStandin]:
    with OpenAIStandin(models=["gpt-4o-mini"]) as standin:
        yield standin


def write_config(home: Path, upstream: OpenAIStandin) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        "[embedded]\nenabled = false\n"
        "[residency]\nenabled = false\n"
        "[cache]\nenabled = false\n"
        "[ollama]\ndiscover_local = false\n"
        "[routing]\nknn = false\n"
        f'[[openai_compat]]\nname = "up"\nbase_url = "{upstream.url}"\n'
    )


def serve(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as out:
        proc = subprocess.Popen([ROUNDHOUSED, "serve", "--port", str(port)], env=os.environ, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"daemon exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("daemon did not become ready")


def hammer(
    url: str, stop: threading.Event, answered: list[str], budget: list[int], lock: threading.Lock
) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
                n = budget[0]
            body = {
                "model": "up/gpt-4o-mini",
                "messages": [{"role": "user", "content": f"Question number {n}: what is {n} + {n}?"}],
                "max_tokens": 8,
            }
            try:
                response = client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:  # the daemon was killed under this request
                return
            if response.status_code == 200:
                with lock:
                    answered.append(response.headers["x-roundhouse-request-id"])


def test_kill_9_mid_run_loses_no_answered_request(
    rh_home: Path, tmp_path: Path, upstream: OpenAIStandin
) -> None:
    write_config(rh_home, upstream)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "daemon.log"
    proc = serve(port, log)
    answered: list[str] = []
    budget = [MAX_REQUESTS]
    lock = threading.Lock()
    stop = threading.Event()
    clients = [
        threading.Thread(target=hammer, args=(url, stop, answered, budget, lock)) for _ in range(CLIENTS)
    ]
    try:
        for thread in clients:
            thread.start()
        # Killed mid-run: after RUN_S, or sooner once half the requests are answered.
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline and len(answered) < MAX_REQUESTS // 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=15)
        if proc.poll() is None:
            proc.kill()
    with lock:
        seen = set(answered)
    assert seen, "no request was answered before the kill"

    proc = serve(port, log)
    try:
        assert httpx.get(url + "/health", timeout=5).status_code == 200
        with sqlite3.connect(rh_home / "data" / "roundhouse.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            ledger = {row[0] for row in db.execute("SELECT id FROM requests")}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    missing = seen - ledger
    assert not missing, f"{len(missing)} of {len(seen)} answered requests have no ledger row"
