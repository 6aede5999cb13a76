"""A real llama.cpp server behind Roundhouse as an `[[openai_compat]]` backend."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import RunningDaemon
from tests.standins.llama_server import MODEL_ALIAS, LlamaServer

MODEL = f"llamacpp/{MODEL_ALIAS}"
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
ROUND_TRIP = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature_c": 18, "sky": "clear"}'},
]


@pytest.fixture
def rh(start_daemon, llama_server: LlamaServer) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon(openai_compat=[{"name": "llamacpp", "base_url": llama_server.base_url}])


@pytest.fixture
def client(rh: RunningDaemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=rh.url + "/v1", api_key="unused", max_retries=0)


def test_tool_call_round_trip_reaches_the_model(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=MODEL, messages=ROUND_TRIP, tools=TOOLS, max_tokens=8)  # type: ignore[arg-type]
    assert answer.choices[0].message.content is not None


def test_tool_call_round_trip_streams(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=ROUND_TRIP,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        max_tokens=8,
        stream=True,
    )
    chunks = list(stream)
    assert chunks and any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_json_schema_is_answered_or_refused_as_a_client_error(client: openai.OpenAI) -> None:
    """llama-cpp-python's server reports `json_schema` (which it does not know) as a 500 with its
    traceback in the message: the caller gets a 400 naming the field, and no traceback."""
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    try:
        answer = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Name a city and its population, as JSON."}],
            response_format={"type": "json_schema", "json_schema": {"name": "City", "schema": schema}},
            max_tokens=40,
        )
    except openai.APIStatusError as exc:
        assert exc.status_code == 400
        assert isinstance(exc.body, dict)
        message = str(exc.body["message"])
        assert "response_format" in message and "Traceback" not in message and 'File "' not in message
        return
    assert answer.choices[0].message.content is not None
    assert isinstance(json.loads(answer.choices[0].message.content)["city"], str)
