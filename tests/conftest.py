"""Shared fixtures: an isolated ROUNDHOUSE_HOME, real daemons on loopback, stand-in servers."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.secrets import Secrets
from tests.standins.llama_server import LlamaServer
from tests.standins.ollama_server import OllamaStandin
from tests.standins.openai_server import OpenAIStandin
from tests.standins.runner import ThreadedServer

# Never touch the user's own config, data or a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="session")
def embedder_export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the run's embedders keep the ONNX export, so the suite exports it once."""
    return tmp_path_factory.mktemp("embedder-onnx")


@pytest.fixture(scope="session")
def embedder(embedder_export_dir: Path) -> Iterator[Embedder]:
    """One real all-MiniLM-L6-v2 for the whole run (loading it takes seconds)."""
    shared = Embedder(export_dir=embedder_export_dir)
    # Load it now, so the first test that embeds does not pay the load inside a client timeout.
    shared.encode(["warm-up"])
    yield shared
    shared.close()


@pytest.fixture
def rh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "rh-home"
    monkeypatch.setenv("ROUNDHOUSE_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("ROUNDHOUSE_") and name != "ROUNDHOUSE_HOME":
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def test_secrets() -> Iterator[Secrets]:
    """The real OS keyring, under a service name of its own so the user's keys are untouched."""
    secrets = Secrets(service=f"roundhouse-test-{uuid.uuid4().hex[:8]}")
    yield secrets
    ok, _ = secrets.available()
    if ok:
        for name in secrets.names():
            secrets.delete(name)


def keyring_or_skip(secrets: Secrets) -> None:
    ok, detail = secrets.available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide a Secret Service: {detail}")
        pytest.skip(f"no OS keyring here ({detail}); `make test` starts one")


class RunningDaemon:
    def __init__(self, daemon: Any, server: ThreadedServer) -> None:
        self.daemon = daemon
        self.server = server
        self.url = server.url

    def rows(
        self, sql: str = "SELECT * FROM requests ORDER BY ts", params: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Ledger rows, once the requests being answered have queued theirs (a request refused
        before its answer is whole does not wait on its row) and the writer has caught up."""
        deadline = time.monotonic() + 10
        while self.daemon.gateway.unfinished and time.monotonic() < deadline:
            time.sleep(0.002)
        self.daemon.store.write_sync(lambda db: None)
        return list(self.daemon.store.db.query(sql, params or []))


@pytest.fixture
def start_daemon(
    rh_home: Path, embedder: Embedder, test_secrets: Secrets
) -> Iterator[Callable[..., RunningDaemon]]:
    """Start a real daemon (FastAPI + uvicorn on a loopback port) with settings overrides."""
    from roundhouse.daemon.api.server import create_app
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.cli import server_options
    from roundhouse.daemon.config import load_settings

    started: list[ThreadedServer] = []

    def start(config_toml: str = "", **settings: Any) -> RunningDaemon:
        if config_toml:
            (rh_home / "config").mkdir(parents=True, exist_ok=True)
            (rh_home / "config" / "config.toml").write_text(config_toml)
        merged: dict[str, Any] = {"ollama": {"discover_local": False}}
        merged.update(settings)
        daemon = Daemon(load_settings(**merged), secrets=test_secrets, embedder=embedder)
        server = ThreadedServer(create_app(daemon), **server_options(daemon.settings.server)).start()
        started.append(server)
        daemon.settings.server.port = server.port
        return RunningDaemon(daemon, server)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def ollama_standin() -> Iterator[OllamaStandin]:
    with OllamaStandin() as standin:
        yield standin


@pytest.fixture
def openai_standin() -> Iterator[OpenAIStandin]:
    with OpenAIStandin() as standin:
        yield standin


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """One real llama.cpp server (`llama_cpp.server`) on the SmolLM2 GGUF for the whole run."""
    with LlamaServer() as server:
        yield server


@contextmanager
def env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
