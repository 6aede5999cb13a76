"""litellm used as a client of the daemon, through its `openai/` and `ollama_chat/` providers: chat and
streams from the real embedded model, JSON schema through its grammar, tool calls through an
OpenAI-compatible upstream (the small local model does not call tools)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import litellm
import pytest

from tests.conftest import RunningDaemon
from tests.standins.openai_server import OpenAIStandin

CHAT_MODEL = "local/smollm2-135m"
UPSTREAM_MODEL = "upstream/gpt-4o"
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 20}, "population": {"type": "integer"}},
    "required": ["name", "population"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin) -> RunningDaemon:
    return start_daemon(openai_compat=[{"name": "upstream", "base_url": openai_standin.url, "local": True}])


def via_openai(rh: RunningDaemon, model: str = CHAT_MODEL, **kwargs: Any) -> Any:
    return litellm.completion(
        model=f"openai/{model}", api_base=rh.url + "/v1", api_key="not-needed", num_retries=0, **kwargs
    )


def via_ollama(rh: RunningDaemon, model: str = CHAT_MODEL, **kwargs: Any) -> Any:
    return litellm.completion(model=f"ollama_chat/{model}", api_base=rh.url, num_retries=0, **kwargs)


Ask = Callable[..., Any]
OPENAI, OLLAMA = "litellm (openai/)", "litellm (ollama_chat/)"


def each_provider(feature: str) -> pytest.MarkDecorator:
    """The test once per provider, each its own cell of the compatibility matrix."""
    return pytest.mark.parametrize(
        "ask",
        [
            pytest.param(via_openai, id="openai", marks=pytest.mark.compat(client=OPENAI, feature=feature)),
            pytest.param(
                via_ollama, id="ollama_chat", marks=pytest.mark.compat(client=OLLAMA, feature=feature)
            ),
        ],
    )


@each_provider("chat")
def test_chat(rh: RunningDaemon, ask: Ask) -> None:
    reply = ask(rh, messages=QUESTION, max_tokens=20, temperature=0)
    assert "paris" in (reply.choices[0].message.content or "").lower()
    assert reply.usage.completion_tokens > 0


@each_provider("stream")
def test_stream(rh: RunningDaemon, ask: Ask) -> None:
    pieces = [
        c.choices[0].delta.content or ""
        for c in ask(rh, messages=[{"role": "user", "content": "Count to five."}], max_tokens=30, stream=True)
        if c.choices
    ]
    assert len([p for p in pieces if p]) > 1 and "".join(pieces).strip()


@each_provider("json_schema")
def test_json_schema(rh: RunningDaemon, ask: Ask) -> None:
    reply = ask(
        rh,
        messages=[{"role": "user", "content": "Name a city and its population."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA}},
        max_tokens=48,
        temperature=0,
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), SCHEMA)


@each_provider("tools round trip")
def test_tool_round_trip(rh: RunningDaemon, openai_standin: OpenAIStandin, ask: Ask) -> None:
    tool_round_trip(ask, rh, openai_standin)


def tool_round_trip(complete: Callable[..., Any], rh: RunningDaemon, standin: OpenAIStandin) -> None:
    # litellm 1.106 sends any `tools` through its MCP check, which needs the optional `mcp` package;
    # its own flag skips that, as a litellm user without `mcp` has to.
    complete = functools.partial(complete, _skip_mcp_handler=True)
    question = {"role": "user", "content": "What is the weather in Paris?"}
    standin.tool_calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    called = complete(rh, UPSTREAM_MODEL, messages=[question], tools=TOOLS).choices[0].message
    calls = called.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    standin.tool_calls = []
    answer = {"role": "tool", "tool_call_id": calls[0].id, "content": "18°C"}
    final = complete(rh, UPSTREAM_MODEL, messages=[question, called.model_dump(), answer], tools=TOOLS)
    assert final.choices[0].message.content == standin.reply
    sent = standin.requests[-1]["messages"]
    assert [m["role"] for m in sent][-3:] == ["user", "assistant", "tool"]
    assert "18°C" in str(sent[-1]["content"])
