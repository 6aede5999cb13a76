"""The daemon's /openapi.json against the daemon itself: schemathesis sends schema-derived requests to
a real daemon over a loopback socket and checks every answer against what the document declares.

The run is bounded so CI stays deterministic: the coverage phase on every operation plus a few
derandomized fuzz examples each."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins.ollama_server import OllamaStandin
from tests.standins.runner import ThreadedServer

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "positive_data_acceptance",
    ]
)


@pytest.fixture(scope="module")
def conformance_daemon(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[str]:
    """One daemon for the whole module (one per case would dominate the run's time)."""
    from roundhouse.daemon.api.server import create_app
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.cli import server_options
    from roundhouse.daemon.config import load_settings
    from roundhouse.daemon.secrets import Secrets

    home = tmp_path_factory.mktemp("conformance") / "rh-home"
    with pytest.MonkeyPatch.context() as mp, OllamaStandin() as ollama:
        mp.setenv("ROUNDHOUSE_HOME", str(home))
        for name in list(os.environ):
            if name.startswith("ROUNDHOUSE_") and name != "ROUNDHOUSE_HOME":
                mp.delenv(name)
        secrets = Secrets(service=f"roundhouse-test-{uuid.uuid4().hex[:8]}")
        settings = load_settings(ollama={"hosts": [ollama.url], "discover_local": False})
        daemon = Daemon(settings, secrets=secrets, embedder=embedder)
        server = ThreadedServer(create_app(daemon), **server_options(daemon.settings.server)).start()
        daemon.settings.server.port = server.port
        try:
            yield server.url
        finally:
            server.stop()


@pytest.mark.xfail(
    reason="known gaps: schema-valid bodies still refused by semantic checks (unsupported fields, "
    "non-embedding models, unreachable upstreams, host names and URLs and image sizes checked "
    "beyond the schema), "
    "DELETE /api/delete's empty body, an empty PATCH of an agent or memory answering 400",
    strict=False,
)
def test_every_answer_is_one_the_document_declares(conformance_daemon: str, tmp_path: Path) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    command = [
        str(schemathesis),
        "run",
        f"{conformance_daemon}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "5",
        "--generation-deterministic",
        "--request-timeout",
        "15",
        "--workers",
        "1",
        "--continue-on-failure",
        # Shutting down would end the daemon every later case talks to.
        "--exclude-path-regex",
        "/shutdown$",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-4000:]
