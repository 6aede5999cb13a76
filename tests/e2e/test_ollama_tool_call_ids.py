"""Tool-call ids through the Ollama codec: Ollama's wire has none, so Roundhouse makes them, and
two calls of the same function, in one answer or in successive turns, never share one."""

from __future__ import annotations

import json
from typing import Any

import ollama
import openai
import pytest

from tests.conftest import RunningDaemon
from tests.standins.ollama_server import OllamaStandin
from tests.standins.openai_server import OpenAIStandin

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def with_ollama(start_daemon, ollama_standin: OllamaStandin) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon(ollama={"hosts": [ollama_standin.url], "discover_local": False})


def _openai_turn(client: openai.OpenAI, messages: list[Any], stream: bool) -> list[dict[str, Any]]:
    """One answer's tool calls as OpenAI-shaped dicts, streamed or whole."""
    if not stream:
        reply = client.chat.completions.create(model="ollama/llama3.1:8b", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        return [c.model_dump() for c in reply.choices[0].message.tool_calls or []]
    calls: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(
        model="ollama/llama3.1:8b",
        messages=messages,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    ):
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": None, "function": {"name": "", "arguments": ""}})
            call["id"] = call["id"] or delta.id
            if delta.function:
                call["function"]["name"] += delta.function.name or ""
                call["function"]["arguments"] += delta.function.arguments or ""
    return [calls[i] for i in sorted(calls)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_same_function_twice_in_two_turns_gets_four_distinct_ids(
    with_ollama: RunningDaemon, stream: bool
) -> None:
    client = openai.OpenAI(base_url=with_ollama.url + "/v1", api_key="x")
    messages: list[Any] = [{"role": "user", "content": "weather in two cities, twice"}]
    first = _openai_turn(client, messages, stream)
    assert [json.loads(c["function"]["arguments"])["city"] for c in first] == ["Paris", "Lyon"]
    messages.append({"role": "assistant", "content": None, "tool_calls": first})
    for call in first:
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "sunny"})
    messages.append({"role": "user", "content": "and tomorrow, twice?"})
    second = _openai_turn(client, messages, stream)
    assert [c["function"]["name"] for c in first + second] == ["weather"] * 4
    ids = [c["id"] for c in first + second]
    assert all(ids) and len(set(ids)) == 4, ids


def test_ollama_client_history_keeps_each_result_with_its_call(
    start_daemon,  # type: ignore[no-untyped-def]
    ollama_standin: OllamaStandin,
    openai_standin: OpenAIStandin,
) -> None:
    """An Ollama client's two turns, answered by two calls of one function each, reach an
    OpenAI-shaped upstream with four distinct call ids and each tool result naming its call."""
    rh = start_daemon(
        ollama={"hosts": [ollama_standin.url], "discover_local": False},
        openai_compat=[{"name": "lmstudio", "base_url": openai_standin.url}],
    )
    client = ollama.Client(host=rh.url)
    messages: list[Any] = [{"role": "user", "content": "weather in two cities, twice"}]
    first = client.chat(model="ollama/llama3.1:8b", messages=messages, tools=TOOLS, stream=False)
    calls = first.message.tool_calls or []
    assert [(c.function.name, c.function.arguments["city"]) for c in calls] == [
        ("weather", "Paris"),
        ("weather", "Lyon"),
    ]
    history: list[Any] = list(messages)
    for _ in range(2):
        history.append({"role": "assistant", "content": "", "tool_calls": [c.model_dump() for c in calls]})
        history += [
            {"role": "tool", "tool_name": "weather", "content": f"sunny in {c.function.arguments['city']}"}
            for c in calls
        ]
        history.append({"role": "user", "content": "and tomorrow, twice?"})
    client.chat(model="lmstudio/gpt-4o-mini", messages=history, stream=False)
    sent = openai_standin.requests[-1]["messages"]
    call_ids = [c["id"] for m in sent if m.get("tool_calls") for c in m["tool_calls"]]
    assert len(call_ids) == 4 and len(set(call_ids)) == 4, call_ids
    by_id = {
        c["id"]: json.loads(c["function"]["arguments"])["city"]
        for m in sent
        for c in m.get("tool_calls") or []
    }
    results = [(m["tool_call_id"], m["content"]) for m in sent if m["role"] == "tool"]
    assert [r[0] for r in results] == call_ids
    assert all(content == f"sunny in {by_id[call_id]}" for call_id, content in results)
