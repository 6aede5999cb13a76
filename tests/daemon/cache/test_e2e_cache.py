"""End to end through a real daemon: cache headers, replay in both dialects, single-flight
against an Ollama stand-in that counts what reaches it, and 503 + Retry-After when full."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import RunningDaemon
from tests.standins.ollama_server import OllamaStandin

SMOL = "local/smollm2-135m"
LLAMA = "ollama/llama3.1:8b"


def start(
    start_daemon: Callable[..., RunningDaemon], ollama: OllamaStandin | None = None, **extra: Any
) -> RunningDaemon:
    settings: dict[str, Any] = {"residency": {"enabled": False}}
    if ollama is not None:
        settings["ollama"] = {"hosts": [ollama.url], "discover_local": False}
    settings.update(extra)
    return start_daemon(**settings)


def openai_chat(rh: RunningDaemon, model: str, text: str, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "temperature": 0}
    headers = extra.pop("headers", {})
    body.update(extra)
    return httpx.post(rh.url + "/v1/chat/completions", json=body, headers=headers, timeout=120)


def sse_text(response: httpx.Response) -> str:
    parts = []
    for line in response.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            choices = json.loads(line[6:]).get("choices") or []
            if choices:
                parts.append(choices[0].get("delta", {}).get("content") or "")
    return "".join(parts)


def test_embedded_model_answer_is_cached_and_replayed_in_both_dialects(
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    rh = start(start_daemon)
    question = "Name one primary colour."
    first = openai_chat(rh, SMOL, question, max_tokens=8)
    assert first.status_code == 200, first.text
    assert first.headers["x-roundhouse-cache"] == "miss"
    answer = first.json()["choices"][0]["message"]["content"]
    assert answer

    streamed = openai_chat(rh, SMOL, question, max_tokens=8, stream=True)
    assert streamed.headers["x-roundhouse-cache"] == "hit"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert sse_text(streamed) == answer

    ollama = httpx.post(
        rh.url + "/api/chat",
        json={
            "model": SMOL,
            "messages": [{"role": "user", "content": question}],
            "options": {"temperature": 0, "num_predict": 8},
        },
        timeout=60,
    )
    assert ollama.headers["x-roundhouse-cache"] == "hit"
    lines = [json.loads(line) for line in ollama.text.splitlines() if line.strip()]
    assert "".join(line["message"]["content"] for line in lines) == answer and lines[-1]["done"]

    assert (
        openai_chat(rh, SMOL, question, max_tokens=8, headers={"Cache-Control": "no-store"}).headers[
            "x-roundhouse-cache"
        ]
        == "off"
    )
    assert (
        openai_chat(rh, SMOL, question, max_tokens=8, temperature=0.9).headers["x-roundhouse-cache"] == "off"
    )
    stats = httpx.get(rh.url + "/control/v1/cache", timeout=10).json()
    assert stats["hits"]["exact"] == 2 and stats["entries"] == 1


def test_fifty_identical_concurrent_requests_reach_the_backend_once(
    start_daemon: Callable[..., RunningDaemon], ollama_standin: OllamaStandin
) -> None:
    ollama_standin.token_delay_s = 0.02
    rh = start(start_daemon, ollama_standin, embedded={"enabled": False})
    body = {
        "model": LLAMA,
        "messages": [{"role": "user", "content": "Why is the sea salty?"}],
        "temperature": 0,
    }

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=rh.url, timeout=60) as client:
            return await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(50)))

    responses = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses), responses[0].text
    answers = {r.json()["choices"][0]["message"]["content"] for r in responses}
    assert len(answers) == 1
    assert len(ollama_standin.bodies("/api/chat")) == 1
    assert {r.headers["x-roundhouse-cache"] for r in responses} <= {"miss", "hit"}


def test_a_full_queue_answers_503_with_retry_after_in_each_dialect(
    start_daemon: Callable[..., RunningDaemon], ollama_standin: OllamaStandin
) -> None:
    ollama_standin.token_delay_s = 0.1
    rh = start(start_daemon, ollama_standin, embedded={"enabled": False}, scheduling={"max_queue_depth": 1})

    async def crowd() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=rh.url, timeout=60) as client:
            calls = []
            for i in range(4):
                messages = [{"role": "user", "content": f"Tell me fact number {i}"}]
                if i % 2:
                    calls.append(
                        client.post("/api/chat", json={"model": LLAMA, "messages": messages, "stream": False})
                    )
                else:
                    calls.append(
                        client.post("/v1/chat/completions", json={"model": LLAMA, "messages": messages})
                    )
            return await asyncio.gather(*calls)

    responses = asyncio.run(crowd())
    busy = [r for r in responses if r.status_code == 503]
    assert busy, [r.status_code for r in responses]
    for r in busy:
        assert int(r.headers["retry-after"]) >= 1
        error = r.json()["error"]
        assert "queue is full" in (error["message"] if isinstance(error, dict) else error)
    assert sum(r.status_code == 200 for r in responses) >= 2


def test_feedback_through_the_control_api(start_daemon: Callable[..., RunningDaemon]) -> None:
    rh = start(start_daemon)
    first = openai_chat(rh, SMOL, "Say hello.", max_tokens=4)
    request_id = first.headers["x-roundhouse-request-id"]
    unclear = httpx.post(rh.url + "/control/v1/cache/feedback", json={"good": True}, timeout=10)
    assert unclear.status_code == 400 and "request_id or entry_id" in unclear.text
    missing = httpx.post(
        rh.url + "/control/v1/cache/feedback", json={"request_id": "rh-nope", "good": False}, timeout=10
    )
    assert missing.status_code == 404
    bad = httpx.post(
        rh.url + "/control/v1/cache/feedback", json={"request_id": request_id, "good": False}, timeout=10
    )
    assert bad.status_code == 200 and bad.json()["action"] == "evicted"
    assert openai_chat(rh, SMOL, "Say hello.", max_tokens=4).headers["x-roundhouse-cache"] == "miss"
    assert httpx.post(rh.url + "/control/v1/cache/clear", timeout=10).json()["cleared"] == 1
