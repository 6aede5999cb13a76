"""Real JavaScript clients from npm (openai-js, ollama-js, @anthropic-ai/sdk, Claude Code, Codex CLI)
against a real daemon. `scripts/npm_clients.sh` installs them, pinned by tests/npm_clients/package-lock.json;
each test runs one small .mjs script (or the CLI itself) with node, in a temporary HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningDaemon
from tests.standins.llama_server import MODEL_ALIAS, LlamaServer
from tests.standins.openai_server import OpenAIStandin

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "npm_clients"
CLIENTS = Path(os.environ.get("ROUNDHOUSE_NPM_CLIENTS", ROOT / ".npm-clients"))
CHAT_MODEL = "local/smollm2-135m"
EMBED_MODEL = "local/all-minilm-l6-v2"
STANDIN_MODEL = "upstream/gpt-4o"
STANDIN_REPLY = "Roundhouse stand-in says hello."
TIMEOUT_S = 180

if shutil.which("node") is None:
    pytest.skip("node is not installed: the JavaScript client tests need node 20+", allow_module_level=True)
if not (CLIENTS / "node_modules").is_dir():
    pytest.skip(f"no npm clients in {CLIENTS}: run scripts/npm_clients.sh first", allow_module_level=True)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """A hermetic environment: a fresh HOME, no telemetry, no update checks, no inherited API keys."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR", "SYSTEMROOT")}
    (tmp_path / "home").mkdir()
    return {
        **keep,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DO_NOT_TRACK": "1",
        "NO_UPDATE_NOTIFIER": "1",
        "NO_COLOR": "1",
    }


def node_case(env: dict[str, str], script: str, *args: str) -> dict[str, Any]:
    # Node resolves packages from the script's folder upwards, so the script runs from beside node_modules.
    target = CLIENTS / "cases" / script
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(CASES / script, target)
    done = subprocess.run(
        ["node", str(target), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli(env: dict[str, str], name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLIENTS / "node_modules" / ".bin" / name), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    return start_daemon()


@pytest.fixture
def standin_rh(start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin) -> RunningDaemon:
    openai_standin.reply = STANDIN_REPLY
    return start_daemon(openai_compat=[{"name": "upstream", "base_url": openai_standin.url, "local": True}])


@pytest.mark.compat(client="openai-js", feature="chat")
def test_openai_js_chat(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "openai_client.mjs", rh.url + "/v1", CHAT_MODEL, "chat")
    assert "paris" in answer["text"].lower() and answer["finish"] in ("stop", "length")


@pytest.mark.compat(client="openai-js", feature="stream")
def test_openai_js_stream(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "openai_client.mjs", rh.url + "/v1", CHAT_MODEL, "stream")
    assert answer["chunks"] > 2 and "paris" in answer["text"].lower()
    assert answer["usage"]["completion_tokens"] > 0


@pytest.mark.compat(client="openai-js", feature="tools round trip")
def test_openai_js_tool_round_trip(
    start_daemon: Callable[..., RunningDaemon], llama_server: LlamaServer, home: dict[str, str]
) -> None:
    rh = start_daemon(openai_compat=[{"name": "llamacpp", "base_url": llama_server.base_url}])
    answer = node_case(home, "openai_client.mjs", rh.url + "/v1", f"llamacpp/{MODEL_ALIAS}", "tools")
    assert answer["text"] and answer["finish"] in ("stop", "length")


@pytest.mark.compat(client="openai-js", feature="responses")
def test_openai_js_responses_create(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "openai_client.mjs", rh.url + "/v1", CHAT_MODEL, "responses")
    assert answer["object"] == "response" and answer["status"] in ("completed", "incomplete")
    assert "paris" in answer["text"].lower()


@pytest.mark.compat(client="ollama-js", feature="chat")
def test_ollama_js_chat(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "ollama_client.mjs", rh.url, CHAT_MODEL, "chat")
    assert answer["done"] and "paris" in answer["text"].lower()


@pytest.mark.compat(client="ollama-js", feature="stream")
def test_ollama_js_stream(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "ollama_client.mjs", rh.url, CHAT_MODEL, "stream")
    assert answer["chunks"] > 2 and answer["done"] and "paris" in answer["text"].lower()


@pytest.mark.compat(client="ollama-js", feature="models")
def test_ollama_js_list(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "ollama_client.mjs", rh.url, CHAT_MODEL, "list")
    assert CHAT_MODEL in answer["names"]


@pytest.mark.compat(client="ollama-js", feature="embeddings")
def test_ollama_js_embed(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "ollama_client.mjs", rh.url, EMBED_MODEL, "embed")
    assert answer == {"count": 2, "dims": 384}


@pytest.mark.compat(client="anthropic-js", feature="chat")
def test_anthropic_js_messages_create(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "anthropic_client.mjs", rh.url, CHAT_MODEL, "create")
    assert "paris" in answer["text"].lower() and answer["stop"] in ("end_turn", "max_tokens")
    assert answer["usage"]["output_tokens"] > 0


@pytest.mark.compat(client="anthropic-js", feature="stream")
def test_anthropic_js_messages_stream(rh: RunningDaemon, home: dict[str, str]) -> None:
    answer = node_case(home, "anthropic_client.mjs", rh.url, CHAT_MODEL, "stream")
    assert answer["kinds"][0] == "message_start" and answer["kinds"][-1] == "message_stop"
    assert answer["text"] == answer["final"] and "paris" in answer["text"].lower()


def claude_env(home: dict[str, str], rh: RunningDaemon, model: str) -> dict[str, str]:
    return {
        **home,
        "ANTHROPIC_BASE_URL": rh.url,
        "ANTHROPIC_API_KEY": "not-needed-on-loopback",
        "ANTHROPIC_AUTH_TOKEN": "not-needed-on-loopback",
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
    }


@pytest.mark.compat(client="Claude Code", feature="chat")
def test_claude_code_print_answers_through_the_daemon(
    standin_rh: RunningDaemon, openai_standin: OpenAIStandin, home: dict[str, str], tmp_path: Path
) -> None:
    done = cli(
        claude_env(home, standin_rh, STANDIN_MODEL),
        "claude",
        "-p",
        "Say hello.",
        "--model",
        STANDIN_MODEL,
        cwd=tmp_path,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert STANDIN_REPLY in done.stdout
    assert openai_standin.requests, "Claude Code's request never reached the upstream"


@pytest.mark.compat(client="Claude Code", feature="context errors")
def test_claude_code_on_the_embedded_model_gets_a_clear_context_error(
    rh: RunningDaemon, home: dict[str, str], tmp_path: Path
) -> None:
    done = cli(
        claude_env(home, rh, CHAT_MODEL), "claude", "-p", "Say hello.", "--model", CHAT_MODEL, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-2000:]
    assert "400" in output and "context" in output.lower(), output[-2000:]
    assert "Traceback" not in output


@pytest.mark.compat(client="Codex CLI", feature="responses")
def test_codex_exec_answers_through_the_daemon(
    standin_rh: RunningDaemon, openai_standin: OpenAIStandin, home: dict[str, str], tmp_path: Path
) -> None:
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        f'model = "{STANDIN_MODEL}"\n'
        'model_provider = "roundhouse"\n'
        "[model_providers.roundhouse]\n"
        'name = "Roundhouse"\n'
        f'base_url = "{standin_rh.url}/v1"\n'
        'env_key = "ROUNDHOUSE_API_KEY"\n'
        'wire_api = "responses"\n'
        "[analytics]\nenabled = false\n"
        '[otel]\nexporter = "none"\n'
    )
    env = {**home, "CODEX_HOME": str(codex_home), "ROUNDHOUSE_API_KEY": "not-needed-on-loopback"}
    done = cli(env, "codex", "exec", "--skip-git-repo-check", "Say hello.", cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert STANDIN_REPLY in done.stdout
    assert openai_standin.requests, "Codex's request never reached the upstream"
