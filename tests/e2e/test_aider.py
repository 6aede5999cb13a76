"""aider, the coding assistant, with the daemon as its OpenAI-compatible endpoint (`--openai-api-base`).

aider pins its own litellm, openai and pydantic, so it runs from a virtual environment of its own
(scripts/aider_env.sh makes `.venv-aider`; RH_AIDER_VENV names another)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunningDaemon

ROOT = Path(__file__).resolve().parents[2]
CHAT_MODEL = "local/smollm2-135m"


def aider_or_skip() -> Path:
    venv = Path(os.environ.get("RH_AIDER_VENV", ROOT / ".venv-aider"))
    aider = venv / "bin" / "aider"
    if not aider.exists():
        pytest.skip(f"aider is not installed in {venv}; run scripts/aider_env.sh")
    return aider


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    return start_daemon()


def run_aider(rh: RunningDaemon, workdir: Path, *args: str) -> str:
    aider = aider_or_skip()
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    command = [
        str(aider), "--model", f"openai/{CHAT_MODEL}", "--openai-api-base", rh.url + "/v1",
        "--openai-api-key", "not-needed-on-loopback", "--no-git", "--yes-always", "--no-check-update",
        "--no-analytics", "--no-show-model-warnings", "--no-pretty", "--map-tokens", "0",
        "--edit-format", "whole", *args,
    ]  # fmt: skip
    environment = {**os.environ, "HOME": str(home), "AIDER_ANALYTICS": "false"}
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=240, env=environment, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    return done.stdout


@pytest.mark.compat(client="aider", feature="chat")
def test_aider_asks_and_gets_an_answer(rh: RunningDaemon, tmp_path: Path) -> None:
    run_aider(rh, tmp_path, "--no-stream", "--message", "/ask What is the capital of France? One word.")
    rows = rh.rows()
    assert rows and all(r["status"] == 200 for r in rows)
    assert rows[-1]["model_used"] == CHAT_MODEL and rows[-1]["tokens_out"] > 0


@pytest.mark.compat(client="aider", feature="stream")
def test_aider_streams_an_answer(rh: RunningDaemon, tmp_path: Path) -> None:
    run_aider(rh, tmp_path, "--stream", "--message", "/ask Count from one to five.")
    rows = rh.rows()
    assert rows and all(r["status"] == 200 for r in rows)
    assert rows[-1]["model_used"] == CHAT_MODEL and rows[-1]["tokens_out"] > 0
