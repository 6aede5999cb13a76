"""`llm` (its CLI, and its Python API where the CLI cannot show the detail) with the daemon as an
OpenAI-compatible model, set up the way its users do it: `extra-openai-models.yaml` in the `llm`
user directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import llm
import pytest

from tests.conftest import RunningDaemon, env
from tests.standins.openai_server import OpenAIStandin

LLM = str(Path(sys.executable).with_name("llm"))


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin) -> RunningDaemon:
    return start_daemon(openai_compat=[{"name": "upstream", "base_url": openai_standin.url, "local": True}])


@pytest.fixture
def llm_home(rh: RunningDaemon, tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "llm-home"
    home.mkdir()
    base = rh.url + "/v1"
    (home / "extra-openai-models.yaml").write_text(
        f"""- model_id: roundhouse
  model_name: local/smollm2-135m
  api_base: "{base}"
  api_key_name: roundhouse
  supports_schema: true
- model_id: roundhouse-upstream
  model_name: upstream/gpt-4o
  api_base: "{base}"
  api_key_name: roundhouse
  supports_tools: true
"""
    )
    (home / "keys.json").write_text(json.dumps({"roundhouse": "not-needed-on-loopback"}))
    with env(LLM_USER_PATH=str(home)):
        yield home


def run_llm(*args: str) -> str:
    done = subprocess.run(
        [LLM, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ), check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.compat(client="llm", feature="chat")
def test_llm_cli_answers(llm_home: Path) -> None:
    out = run_llm(
        "-m", "roundhouse", "--no-stream", "-o", "max_tokens", "20", "-o", "temperature", "0",
        "What is the capital of France? Answer in one word.",
    )  # fmt: skip
    assert "paris" in out.lower()


@pytest.mark.compat(client="llm", feature="stream")
def test_llm_streams(llm_home: Path) -> None:
    response = llm.get_model("roundhouse").prompt("Count from one to five.", max_tokens=30)
    pieces = [piece for piece in response if piece]
    assert len(pieces) > 1 and "".join(pieces).strip()


@pytest.mark.compat(client="llm", feature="json_schema")
def test_llm_cli_schema(llm_home: Path) -> None:
    out = run_llm(
        "-m", "roundhouse", "--schema", "name, population int", "-o", "max_tokens", "48",
        "-o", "temperature", "0", "Name a city and its population.",
    )  # fmt: skip
    answer = json.loads(out)
    assert isinstance(answer["name"], str) and isinstance(answer["population"], int)
    schema = {"type": "object", "required": ["name", "population"]}
    jsonschema.validate(answer, schema)


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"18°C in {city}"


@pytest.mark.compat(client="llm", feature="tools round trip")
def test_llm_runs_a_tool_and_sends_its_result(llm_home: Path, openai_standin: OpenAIStandin) -> None:
    openai_standin.tool_calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]

    def answer_after_the_tool(tool: object, tool_call: object, tool_result: object) -> None:
        openai_standin.tool_calls = []

    chain = llm.get_model("roundhouse-upstream").chain(
        "What is the weather in Paris?", tools=[get_weather], after_call=answer_after_the_tool
    )
    assert chain.text() == openai_standin.reply
    sent = openai_standin.requests[-1]["messages"]
    assert [m["role"] for m in sent][-3:] == ["user", "assistant", "tool"]
    assert sent[-1]["content"] == "18°C in Paris" and sent[-1]["tool_call_id"] == "call_0_get_weather"
