"""Ollama, OpenAI-compatible and cloud backends against stand-in servers on loopback.

The stand-ins speak the documented wire formats (Ollama NDJSON, OpenAI SSE); the daemon
reaches them through the official `ollama` client, httpx and litellm over real sockets.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import RunningDaemon, keyring_or_skip
from tests.standins.ollama_server import FakeModel, OllamaStandin
from tests.standins.openai_server import OpenAIStandin


@pytest.fixture
def with_ollama(start_daemon, ollama_standin: OllamaStandin) -> RunningDaemon:  # type: ignore[no-untyped-def]
    ollama_standin.models.append(
        FakeModel("nomic-embed-text:latest", size=300_000_000, family="nomic-bert", embedding=True)
    )
    return start_daemon(ollama={"hosts": [ollama_standin.url], "discover_local": False})


def test_ollama_models_are_offered_under_stable_and_short_names(with_ollama: RunningDaemon) -> None:
    ids = [m["id"] for m in httpx.get(with_ollama.url + "/v1/models").json()["data"]]
    assert "ollama/llama3.1:8b" in ids
    client = openai.OpenAI(base_url=with_ollama.url + "/v1", api_key="x")
    for name in ("ollama/llama3.1:8b", "llama3.1:8b"):
        reply = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "hello there"}]
        )
        assert reply.choices[0].message.content == "Stand-in reply to: hello there"
        assert reply.model == "ollama/llama3.1:8b"


def test_ollama_chat_translates_sampling_and_streams(
    with_ollama: RunningDaemon, ollama_standin: OllamaStandin
) -> None:
    client = openai.OpenAI(base_url=with_ollama.url + "/v1", api_key="x")
    stream = client.chat.completions.create(
        model="ollama/llama3.1:8b",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "one two three"}],
        temperature=0.2,
        max_tokens=3,
        seed=7,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Stand-in reply to:"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    sent = ollama_standin.bodies("/api/chat")[-1]
    # Sampling maps to Ollama's options; the runner's num_ctx is the model's own (residency).
    assert sent["options"] == {"temperature": 0.2, "num_predict": 3, "seed": 7, "num_ctx": 4096}
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}


def test_ollama_tool_calls_pass_through(with_ollama: RunningDaemon, ollama_standin: OllamaStandin) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    client = openai.OpenAI(base_url=with_ollama.url + "/v1", api_key="x")
    reply = client.chat.completions.create(
        model="ollama/llama3.1:8b", messages=[{"role": "user", "content": "weather?"}], tools=tools
    )
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert reply.choices[0].finish_reason == "tool_calls"
    assert ollama_standin.bodies("/api/chat")[-1]["tools"][0]["function"]["name"] == "weather"


def test_ollama_dialect_passthrough_and_ps(with_ollama: RunningDaemon, ollama_standin: OllamaStandin) -> None:
    shown = httpx.post(with_ollama.url + "/api/show", json={"model": "ollama/llama3.1:8b"}).json()
    assert shown["model_info"]["llama.block_count"] == 32
    loaded = httpx.post(
        with_ollama.url + "/api/generate", json={"model": "llama3.1:8b", "keep_alive": "10m"}
    ).json()
    assert loaded["done_reason"] == "load"
    sent = ollama_standin.bodies("/api/generate")[-1]
    assert sent["model"] == "llama3.1:8b" and not sent.get("prompt"), (
        "a load is a generate call with no prompt"
    )
    ps = httpx.get(with_ollama.url + "/api/ps").json()["models"]
    assert [m["model"] for m in ps] == ["ollama/llama3.1:8b"] and ps[0]["size_vram"] == 2 * 1024**3
    httpx.post(with_ollama.url + "/api/generate", json={"model": "llama3.1:8b", "keep_alive": 0})
    assert httpx.get(with_ollama.url + "/api/ps").json()["models"] == []


def test_ollama_embeddings(with_ollama: RunningDaemon) -> None:
    reply = httpx.post(
        with_ollama.url + "/api/embed", json={"model": "nomic-embed-text", "input": ["a", "b"]}
    ).json()
    assert len(reply["embeddings"]) == 2 and len(reply["embeddings"][0]) == 8


def test_ollama_upstream_errors_reach_the_client(
    with_ollama: RunningDaemon, ollama_standin: OllamaStandin
) -> None:
    ollama_standin.failures.append((400, "invalid option num_ctx"))
    response = httpx.post(
        with_ollama.url + "/v1/chat/completions",
        json={"model": "ollama/llama3.1:8b", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400 and "invalid option num_ctx" in response.json()["error"]["message"]
    row = with_ollama.rows()[-1]
    assert row["status"] == 400 and row["backend"] == "ollama"


def test_a_local_ollama_is_discovered(start_daemon, ollama_standin: OllamaStandin) -> None:  # type: ignore[no-untyped-def]
    rh = start_daemon(ollama={"discover_local": True, "local_url": ollama_standin.url})
    assert "ollama/llama3.1:8b" in [m["id"] for m in httpx.get(rh.url + "/v1/models").json()["data"]]
    status = httpx.get(rh.url + "/control/v1/status").json()
    assert status["backends"]["ollama"]["ok"] and "0.12.6" in status["backends"]["ollama"]["detail"]


def test_nothing_is_discovered_when_no_ollama_answers(start_daemon) -> None:  # type: ignore[no-untyped-def]
    rh = start_daemon(ollama={"discover_local": True, "local_url": "http://127.0.0.1:9"})
    assert "ollama" not in httpx.get(rh.url + "/control/v1/status").json()["backends"]


def test_unreachable_ollama_is_a_clear_502(start_daemon) -> None:  # type: ignore[no-untyped-def]
    with OllamaStandin() as standin:
        rh = start_daemon(ollama={"hosts": [standin.url], "discover_local": False})
        httpx.get(rh.url + "/v1/models")  # catalog knows the model
    response = httpx.post(
        rh.url + "/api/chat",
        json={"model": "ollama/llama3.1:8b", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code in (502, 503) and "error" in response.json()


def test_openai_compatible_url(start_daemon, openai_standin: OpenAIStandin) -> None:  # type: ignore[no-untyped-def]
    rh = start_daemon(openai_compat=[{"name": "lmstudio", "base_url": openai_standin.url}])
    client = openai.OpenAI(base_url=rh.url + "/v1", api_key="x")
    assert "lmstudio/gpt-4o-mini" in [m.id for m in client.models.list()]
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="lmstudio/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        if c.choices
    )
    assert text == "Cloud stand-in answer."
    completion = client.completions.create(model="lmstudio/gpt-4o-mini", prompt="def f(", suffix="):")
    assert completion.choices[0].text == "Cloud stand-in answer."
    assert openai_standin.requests[-1]["suffix"] == "):"


def test_cloud_through_litellm_with_a_keyring_key(
    start_daemon, openai_standin: OpenAIStandin, test_secrets
) -> None:  # type: ignore[no-untyped-def]
    keyring_or_skip(test_secrets)
    rh = start_daemon(
        cloud={"models": {"openai": ["gpt-4o-mini"]}, "api_base": {"openai": openai_standin.url}}
    )
    client = openai.OpenAI(base_url=rh.url + "/v1", api_key="x")
    assert "openai/gpt-4o-mini" not in [m.id for m in client.models.list()], "no key, no cloud model"
    stored = httpx.put(rh.url + "/control/v1/keys/openai", json={"key": "sk-test-abcdefgh12345678WXYZ"})
    assert stored.status_code == 200 and stored.json()["hint"] == "…WXYZ"
    assert "openai/gpt-4o-mini" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Cloud stand-in answer."
    assert openai_standin.auth_headers[-1] == "Bearer sk-test-abcdefgh12345678WXYZ"
    keys = httpx.get(rh.url + "/control/v1/keys").json()
    assert {"provider": "openai", "stored": True, "hint": "…WXYZ"} in keys["providers"]
    assert b"sk-test-abcdefgh12345678WXYZ" not in rh.daemon.store.path.read_bytes()
    assert "sk-test-abcdefgh12345678WXYZ" not in json.dumps(keys)


def test_cloud_errors_never_carry_the_key(start_daemon, openai_standin: OpenAIStandin, test_secrets) -> None:  # type: ignore[no-untyped-def]
    keyring_or_skip(test_secrets)
    key = "sk-test-secretvalue-0000111122223333"
    test_secrets.set("openai", key)
    rh = start_daemon(
        cloud={"models": {"openai": ["gpt-4o-mini"]}, "api_base": {"openai": openai_standin.url}}
    )
    openai_standin.failures.append((401, f"Incorrect API key provided: {key}"))
    response = httpx.post(
        rh.url + "/v1/chat/completions",
        json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 401
    assert key not in response.text and "[key]" in response.text


def test_cloud_tool_calls_streamed_in_pieces_come_whole_to_a_non_stream_client(
    start_daemon, openai_standin: OpenAIStandin, test_secrets
) -> None:  # type: ignore[no-untyped-def]
    keyring_or_skip(test_secrets)
    test_secrets.set("openai", "sk-test-tools-0000111122223333")
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "note": 'a "quoted" word'}},
        {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
    ]
    openai_standin.tool_calls = list(calls)  # the cloud streams each call's arguments in thirds
    rh = start_daemon(
        cloud={"models": {"openai": ["gpt-4o-mini"]}, "api_base": {"openai": openai_standin.url}}
    )
    tools = [
        {"type": "function", "function": {"name": c["name"], "parameters": {"type": "object"}}} for c in calls
    ]
    messages = [{"role": "user", "content": "weather and time in Paris?"}]
    client = openai.OpenAI(base_url=rh.url + "/v1", api_key="x")
    reply = client.chat.completions.create(model="openai/gpt-4o-mini", messages=messages, tools=tools)  # type: ignore[arg-type]
    got = reply.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in got] == [
        (f"call_{i}_{c['name']}", c["name"], c["arguments"]) for i, c in enumerate(calls)
    ]
    assert reply.choices[0].finish_reason == "tool_calls"

    ollama_reply = httpx.post(
        rh.url + "/api/chat",
        json={"model": "openai/gpt-4o-mini", "messages": messages, "tools": tools, "stream": False},
        timeout=60,
    )
    assert ollama_reply.status_code == 200
    assert [c["function"] for c in ollama_reply.json()["message"]["tool_calls"]] == [
        {"name": c["name"], "arguments": c["arguments"]} for c in calls
    ]
