"""What a careless client finds at the edge of a real daemon (uvicorn on loopback, the embedded
model, the real store): every bad request is a 4xx in its own dialect that names the field,
no answer can hold the model for minutes, and every request leaves a ledger row."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from roundhouse.daemon.backends.embedded import smollm2_gguf_path
from tests.conftest import RunningDaemon
from tests.standins.ollama_server import OllamaStandin
from tests.standins.openai_server import OpenAIStandin

LOCAL = "local/smollm2-135m"
EMBEDDER = "local/all-minilm-l6-v2"
CLAMP = "x-roundhouse-max-tokens-clamped"
HI = [{"role": "user", "content": "Say hi."}]


def openai_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], dict), body
    return body["error"]  # type: ignore[no-any-return]


def ollama_error(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    return body["error"]  # type: ignore[no-any-return]


def no_python_in(text: str) -> None:
    for leak in ("Error:", "Traceback", "codec", "internal error", "ValueError", "TypeError"):
        assert leak not in text, text


@pytest.fixture
def daemon(start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    return start_daemon(residency={"enabled": False}, routing={"knn": False})


def headers_of_stream(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Headers:
    """The response headers of a streamed answer, closing it at once (the model stops)."""
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        return response.headers


# -- 2. how long an answer may be ------------------------------------------------------------


def test_a_huge_max_tokens_is_clamped_to_what_the_context_leaves(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=120) as client:
        for body in (
            {"model": LOCAL, "messages": HI, "max_tokens": 10**12, "stream": True},
            {"model": LOCAL, "messages": HI, "max_completion_tokens": 2**62, "stream": True},
        ):
            clamped = int(headers_of_stream(client, "/v1/chat/completions", body)[CLAMP])
            assert 0 < clamped < 2048  # the embedded model's context, less the prompt
        ollama = {"model": LOCAL, "messages": HI, "options": {"num_predict": 10**12}}
        assert 0 < int(headers_of_stream(client, "/api/chat", ollama)[CLAMP]) < 2048
        # A sensible max_tokens is left alone.
        small = client.post("/v1/chat/completions", json={"model": LOCAL, "messages": HI, "max_tokens": 3})
        assert small.status_code == 200 and CLAMP not in small.headers
        assert small.json()["usage"]["completion_tokens"] <= 3


def test_integers_beyond_int64_are_a_400_naming_the_field(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        for field in ("max_tokens", "max_completion_tokens", "seed"):
            reply = client.post("/v1/chat/completions", json={"model": LOCAL, "messages": HI, field: 2**64})
            assert reply.status_code == 400, reply.text
            assert openai_error(reply)["param"] == field
        for field in ("num_predict", "seed", "num_ctx"):
            reply = client.post("/api/chat", json={"model": LOCAL, "messages": HI, "options": {field: 2**64}})
            assert reply.status_code == 400, reply.text
            assert f"options.{field}" in ollama_error(reply)


def test_max_output_tokens_setting_caps_every_answer(start_daemon: Callable[..., RunningDaemon]) -> None:
    running = start_daemon(residency={"enabled": False}, limits={"max_output_tokens": 4})
    with httpx.Client(base_url=running.url, timeout=120) as client:
        reply = client.post("/v1/chat/completions", json={"model": LOCAL, "messages": HI, "max_tokens": 500})
        assert reply.status_code == 200 and reply.headers[CLAMP] == "4"
        assert reply.json()["usage"]["completion_tokens"] <= 4
        generated = client.post(
            "/api/generate", json={"model": LOCAL, "prompt": "Count to 50.", "stream": False}
        )
        assert generated.status_code == 200 and generated.json()["eval_count"] <= 4


def test_a_prompt_that_can_never_fit_is_a_400_with_the_context_size(
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = start_daemon(residency={"enabled": False}, embedded={"context_length": 256})
    long = [{"role": "user", "content": "word " * 400}]
    with httpx.Client(base_url=running.url, timeout=60) as client:
        reply = client.post("/v1/chat/completions", json={"model": LOCAL, "messages": long})
        assert reply.status_code == 400
        error = openai_error(reply)
        assert "256" in error["message"] and error["code"] == "context_length_exceeded"
        ollama = client.post("/api/chat", json={"model": LOCAL, "messages": long, "stream": False})
        assert ollama.status_code == 400 and "256 tokens" in ollama_error(ollama)


# -- 3. wrong types and text that cannot be encoded --------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"temperature": "hot"}, "temperature"),
        ({"stop": 7}, "stop"),
        ({"seed": "x"}, "seed"),
        ({"top_k": "many"}, "top_k"),
        ({"top_p": 3}, "top_p"),
        ({"min_p": "low"}, "min_p"),
        ({"num_ctx": "big"}, "num_ctx"),
        ({"repeat_penalty": "high"}, "repeat_penalty"),
        ({"presence_penalty": [1]}, "presence_penalty"),
        ({"frequency_penalty": {}}, "frequency_penalty"),
        ({"mirostat": 7}, "mirostat"),
        ({"mirostat_eta": "fast"}, "mirostat_eta"),
        ({"num_gpu": "all"}, "num_gpu"),
        ({"num_thread": -3}, "num_thread"),
        ({"use_mmap": "yes"}, "use_mmap"),
    ],
)
def test_ollama_options_of_the_wrong_type_are_400s(
    daemon: RunningDaemon, options: dict[str, Any], field: str
) -> None:
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        for path, body in (
            ("/api/chat", {"model": LOCAL, "messages": HI, "options": options}),
            ("/api/generate", {"model": LOCAL, "prompt": "hi", "options": options}),
        ):
            reply = client.post(path, json=body)
            assert reply.status_code == 400, (path, reply.text)
            message = ollama_error(reply)
            assert f"options.{field}" in message
            no_python_in(message)


def test_an_ollama_tool_call_without_a_function_is_a_400_naming_it(daemon: RunningDaemon) -> None:
    history = [
        *HI,
        {"role": "assistant", "content": "", "tool_calls": [{}]},
        {"role": "tool", "content": "1"},
    ]
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        reply = client.post("/api/chat", json={"model": LOCAL, "messages": history, "stream": False})
    assert reply.status_code == 400, reply.text
    message = ollama_error(reply)
    assert "tool_calls" in message and "function" in message
    no_python_in(message)


def test_openai_sampling_fields_of_the_wrong_type_are_400s(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        for field, value in (
            ("temperature", "hot"),
            ("top_p", 5),
            ("seed", "x"),
            ("stop", 7),
            ("presence_penalty", "much"),
            ("frequency_penalty", 9),
            ("max_tokens", "lots"),
        ):
            reply = client.post("/v1/chat/completions", json={"model": LOCAL, "messages": HI, field: value})
            assert reply.status_code == 400, (field, reply.text)
            error = openai_error(reply)
            assert error["param"] == field and error["type"] == "invalid_request_error"
            no_python_in(error["message"])


def test_text_that_cannot_be_encoded_is_a_400_naming_the_field(daemon: RunningDaemon) -> None:
    lone = '"\\ud800 hello"'  # valid JSON, but not valid Unicode text
    with httpx.Client(base_url=daemon.url, timeout=60, headers={"content-type": "application/json"}) as c:
        chat = f'{{"model": "{LOCAL}", "messages": [{{"role": "user", "content": {lone}}}]}}'
        reply = c.post("/v1/chat/completions", content=chat)
        assert reply.status_code == 400, reply.text
        assert openai_error(reply)["param"] == "messages[0].content"
        no_python_in(reply.text)
        reply = c.post("/api/chat", content=chat)
        assert reply.status_code == 400 and "messages[0].content" in ollama_error(reply)
        no_python_in(reply.text)
        generate = f'{{"model": "{LOCAL}", "prompt": {lone}}}'
        reply = c.post("/api/generate", content=generate)
        assert reply.status_code == 400 and "'messages[0].content'" in ollama_error(reply)
        embed = f'{{"model": "{EMBEDDER}", "input": [{lone}]}}'
        reply = c.post("/v1/embeddings", content=embed)
        assert reply.status_code == 400 and openai_error(reply)["param"] == "input[0]"


# -- 4. smaller edges -------------------------------------------------------------------------


def test_head_and_get_of_the_root_answer_like_ollama(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=30) as client:
        assert client.head("/").status_code == 200
        assert client.get("/").status_code == 200


def test_ollama_endpoints_take_json_without_a_json_content_type(daemon: RunningDaemon) -> None:
    body = json.dumps({"model": LOCAL}).encode()
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        bare = client.build_request("POST", "/api/show", content=body)
        assert "content-type" not in bare.headers
        for request in (
            bare,
            # What `curl -d '{...}'` sends, as in Ollama's own examples.
            client.build_request(
                "POST",
                "/api/show",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
        ):
            reply = client.send(request)
            assert reply.status_code == 200, reply.text
            assert reply.json()["details"]["family"] == "llama"
        curl = client.post(
            "/api/chat",
            content=json.dumps(
                {"model": LOCAL, "messages": HI, "stream": False, "options": {"num_predict": 2}}
            ),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert curl.status_code == 200 and curl.json()["done"] is True


def test_a_stream_asked_for_usage_gets_it_when_the_upstream_sends_none(
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    with OpenAIStandin(send_usage=False) as upstream:
        running = start_daemon(
            residency={"enabled": False},
            openai_compat=[{"name": "lmstudio", "base_url": upstream.url, "local": True}],
        )
        body = {
            "model": "lmstudio/gpt-4o-mini",
            "messages": HI,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        with httpx.Client(base_url=running.url, timeout=60) as client:
            reply = client.post("/v1/chat/completions", json=body)
        assert reply.status_code == 200
        events = [json.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: {")]
        usage = [e["usage"] for e in events if e.get("usage")]
        assert len(usage) == 1 and events[-1]["choices"] == []
        words = len(OpenAIStandin().reply.split())
        assert usage[0]["completion_tokens"] >= words and usage[0]["prompt_tokens"] > 0
        assert usage[0]["total_tokens"] == usage[0]["prompt_tokens"] + usage[0]["completion_tokens"]


def test_what_a_model_cannot_do_is_a_400_not_silence(daemon: RunningDaemon) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        seen = client.post(
            "/v1/chat/completions",
            json={
                "model": LOCAL,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "?"}, image]}],
            },
        )
        assert seen.status_code == 400 and "images" in openai_error(seen)["message"]
        ollama = client.post(
            "/api/chat",
            json={"model": LOCAL, "messages": [{"role": "user", "content": "?", "images": ["iVBORw0KGgo="]}]},
        )
        assert ollama.status_code == 400 and "images" in ollama_error(ollama)
        generate = client.post(
            "/api/generate", json={"model": LOCAL, "prompt": "?", "images": ["iVBORw0KGgo="]}
        )
        assert generate.status_code == 400 and "images" in ollama_error(generate)
        for choice in ("required", {"type": "function", "function": {"name": "lookup"}}):
            forced = client.post(
                "/v1/chat/completions",
                json={"model": LOCAL, "messages": HI, "tools": [tool], "tool_choice": choice},
            )
            assert forced.status_code == 400 and "tool_choice" in openai_error(forced)["message"]
        auto = client.post(
            "/v1/chat/completions",
            json={"model": LOCAL, "messages": HI, "tools": [tool], "tool_choice": "auto", "max_tokens": 2},
        )
        assert auto.status_code == 200
        for field, value in (("logprobs", True), ("top_logprobs", 3)):
            reply = client.post("/v1/chat/completions", json={"model": LOCAL, "messages": HI, field: value})
            assert reply.status_code == 400 and openai_error(reply)["param"] == field
        completion = client.post("/v1/completions", json={"model": LOCAL, "prompt": "a", "logprobs": 2})
        assert completion.status_code == 400 and openai_error(completion)["param"] == "logprobs"
        embed = {"model": EMBEDDER, "input": "hello"}
        assert client.post("/v1/embeddings", json={**embed, "dimensions": 384}).status_code == 200
        shorter = client.post("/v1/embeddings", json={**embed, "dimensions": 64})
        assert shorter.status_code == 400 and openai_error(shorter)["param"] == "dimensions"
        assert "384" in openai_error(shorter)["message"]


# -- 5. every request leaves a ledger row --------------------------------------------------------


def test_refused_requests_leave_a_ledger_row(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        assert client.post("/v1/chat/completions", json={"model": LOCAL}).status_code == 400
        assert (
            client.post("/v1/chat/completions", json={"model": "nope/none", "messages": HI}).status_code
            == 404
        )
        assert (
            client.post(
                "/api/chat", json={"model": LOCAL, "messages": HI, "options": {"seed": "x"}}
            ).status_code
            == 400
        )
        assert client.post("/v1/embeddings", json={"model": "nope/none", "input": "x"}).status_code == 404
        assert client.get("/v1/no-such-thing").status_code == 404
        assert client.post("/api/generate", json={"prompt": "no model"}).status_code == 400
    rows = daemon.rows()
    seen = [(r["endpoint"], r["status"], r["dialect"]) for r in rows]
    assert seen == [
        ("chat", 400, "openai"),
        ("chat", 404, "openai"),
        ("chat", 400, "ollama"),
        ("embeddings", 404, "openai"),
        ("/v1/no-such-thing", 404, "openai"),
        ("generate", 400, "ollama"),
    ]
    assert all(r["cost_usd"] == 0 and r["app"] == "unknown" for r in rows)
    assert rows[0]["model_asked"] == LOCAL and rows[1]["model_asked"] == "nope/none"
    assert rows[1]["error_kind"] == "model_not_found"


# -- 6. ready means ready --------------------------------------------------------------------------


def test_concurrent_first_requests_after_start_share_one_metadata_read(
    start_daemon: Callable[..., RunningDaemon], tmp_path: Path
) -> None:
    source = smollm2_gguf_path()
    assert source is not None
    gguf = tmp_path / "fresh.gguf"  # a path no other daemon in this process has read
    gguf.symlink_to(source)
    running = start_daemon(embedded={"models": {"fresh": str(gguf)}}, routing={"knn": False})
    replies: list[int] = []

    def ask() -> None:
        with httpx.Client(base_url=running.url, timeout=120) as client:
            body = {"model": "local/fresh", "messages": HI, "max_tokens": 2}
            replies.append(client.post("/v1/chat/completions", json=body).status_code)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == [200] * 4
    with httpx.Client(base_url=running.url, timeout=30) as client:
        reads = client.get("/control/v1/residency").json()["gguf_header_reads"]
    assert reads[str(gguf)] == 1


def test_ollama_cannot_be_forced_to_call_a_tool(
    start_daemon: Callable[..., RunningDaemon], ollama_standin: OllamaStandin
) -> None:
    running = start_daemon(
        residency={"enabled": False}, ollama={"hosts": [ollama_standin.url], "discover_local": False}
    )
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    body = {"model": "ollama/llama3.1:8b", "messages": HI, "tools": [tool]}
    with httpx.Client(base_url=running.url, timeout=60) as client:
        forced = client.post("/v1/chat/completions", json={**body, "tool_choice": "required"})
        assert forced.status_code == 400 and "tool_choice" in openai_error(forced)["message"]
        assert client.post("/v1/chat/completions", json={**body, "tool_choice": "auto"}).status_code == 200
