"""End to end: a real daemon with the real embedded model, a stand-in cloud that records every
body it receives, and an Ollama stand-in that can be made to fail.

The promise under test: prompts with secrets or personal data never reach the cloud, in either
dialect, streamed or not, whatever model is asked, and not through fallback either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.standins.ollama_server import FakeModel, OllamaStandin
from tests.standins.openai_server import OpenAIStandin

HARD = (
    "Design a complete multi-region architecture for a global payments platform: consistency model, "
    "partitioning, failure modes, reconciliation, PCI compliance, observability, a migration plan from "
    "our monolith, cost estimates, and a detailed rollout roadmap with the risks of each phase."
)
BORDERLINE = (
    "Design a distributed consensus protocol for a key-value store and compare it to Raft and Paxos "
    "in detail.",
    "Plan the architecture, cost estimates and phased rollout for moving a large analytics platform "
    "to the cloud.",
)
SECRETS = {
    "openai key": "sk-proj-Xq3vB8nR2kLm9PzT4wY7cJ5hG1dF6sA0eU8iO2",
    "email": "maria.garcia84@gmail.com",
    "card": "4539 1488 0343 6467",
    "db password": "postgres://app:Tr0ub4dor&3@db.internal:5432/prod",
}
CLOUD_MODEL = "cloudy/gpt-4o"


@pytest.fixture(autouse=True)
def _examples_embedded_once(shipped_index: object) -> None:
    """Daemons in this process reuse the shipped examples' vectors instead of re-encoding."""


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start(start_daemon: Callable[..., RunningDaemon], cloud: OpenAIStandin, **settings: Any) -> RunningDaemon:
    merged: dict[str, Any] = {
        "openai_compat": [{"name": "cloudy", "base_url": cloud.url, "local": False}],
        # GPU residency is its own concern (tested there); these tests are about where prompts go.
        "residency": {"enabled": False},
    }
    merged.update(settings)
    # The best cloud model first, as a user configures it.
    merged["routing"] = {"tiers": {"cloud": [CLOUD_MODEL]}, **merged.get("routing", {})}
    rh = start_daemon(**merged)
    wait_until(lambda: rh.daemon.router.classifier.index is not None, "the k-NN index", 120)
    return rh


def start_beside(
    start_daemon: Callable[..., RunningDaemon], cloud: OpenAIStandin, ollama: OllamaStandin, **settings: Any
) -> RunningDaemon:
    """A daemon whose local models are the Ollama stand-in's (no embedded model)."""
    local = {"embedded": {"enabled": False}, "ollama": {"hosts": [ollama.url], "discover_local": False}}
    return start(start_daemon, cloud, **local, **settings)


def model_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.headers["x-roundhouse-route-model"]


def answer_of(response: httpx.Response, stream: bool) -> tuple[set[str], str]:
    """The models an answer's chunks name (SSE, NDJSON or one JSON body), and its text."""
    if stream:
        lines = [line.removeprefix("data: ") for line in response.text.splitlines() if line.strip()]
        chunks = [json.loads(line) for line in lines if line != "[DONE]"]
    else:
        chunks = [response.json()]
    text = ""
    for chunk in chunks:
        if "choices" in chunk:
            choice = chunk["choices"][0]
            text += (choice.get("delta") or choice.get("message") or {}).get("content") or ""
        else:
            text += chunk["message"]["content"]
    return {chunk["model"] for chunk in chunks}, text


def chat(
    rh: RunningDaemon, dialect: str, model: str, text: str, stream: bool, **extra: Any
) -> httpx.Response:
    messages = [{"role": "user", "content": text}]
    if dialect == "openai":
        body = {"model": model, "messages": messages, "stream": stream, "max_tokens": 4, "temperature": 0}
        path = "/v1/chat/completions"
    else:
        body = {"model": model, "messages": messages, "stream": stream, "options": {"num_predict": 4}}
        path = "/api/chat"
    body.update(extra)
    return httpx.post(rh.url + path, json=body, timeout=120)


def test_private_prompts_never_reach_the_cloud(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    rh = start(start_daemon, openai_standin)
    # The path to the cloud works: the same hard prompt without private data goes there.
    control = chat(rh, "openai", "auto", HARD, False)
    assert control.status_code == 200
    assert model_of(control) == CLOUD_MODEL
    assert control.headers["x-roundhouse-route-tier"] == "cloud"
    assert len(openai_standin.requests) == 1

    cases = [
        (dialect, model, stream, name)
        for dialect in ("openai", "ollama")
        for stream in (False, True)
        for model, name in zip(("auto", "cloud", CLOUD_MODEL, "auto"), SECRETS, strict=True)
    ]
    for dialect, model, stream, name in cases:
        prompt = f"{HARD}\nUse these details where needed: {SECRETS[name]}"
        response = chat(rh, dialect, model, prompt, stream)
        assert response.status_code == 200, (dialect, model, stream, response.text)
        assert model_of(response) == "local/smollm2-135m", (dialect, model, name)
        assert "privacy" in response.headers["x-roundhouse-route-reasons"]
    seen = openai_standin.all_text()
    assert len(openai_standin.requests) == 1
    for value in SECRETS.values():
        assert value not in seen


def test_a_private_conversation_stays_local_on_later_turns(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    rh = start(start_daemon, openai_standin)
    first = [{"role": "user", "content": f"My email is {SECRETS['email']}. Remember it."}]
    response = httpx.post(
        rh.url + "/v1/chat/completions",
        json={"model": "auto", "messages": first, "max_tokens": 4},
        headers={"X-OpenWebUI-Chat-Id": "chat-42"},
        timeout=120,
    )
    assert response.status_code == 200
    later = [*first, {"role": "assistant", "content": "Noted."}, {"role": "user", "content": HARD}]
    for headers in ({"X-OpenWebUI-Chat-Id": "chat-42"}, {}):
        # By chat id, and without it by the hash of the conversation's first messages. The
        # secret is gone from the last turn's own text, yet the conversation stays local.
        turn = [{"role": "user", "content": "Earlier message."}] if headers else later
        if headers:
            turn = [{"role": "user", "content": HARD}]
        reply = httpx.post(
            rh.url + "/v1/chat/completions",
            json={"model": "auto", "messages": turn, "max_tokens": 4},
            headers=headers,
            timeout=120,
        )
        assert reply.status_code == 200
        assert model_of(reply) == "local/smollm2-135m"
        assert "private earlier" in reply.headers["x-roundhouse-route-reasons"]
    assert openai_standin.requests == []


def test_fallback_never_carries_a_private_prompt_to_the_cloud(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    with OllamaStandin(models=[FakeModel("qwen2.5-coder:7b", parameter_size="7B")]) as ollama:
        quick_retries = {"retries": 1, "backoff_s": 0.01, "failures_before_cooldown": 100}
        rh = start_beside(start_daemon, openai_standin, ollama, routing=quick_retries)
        ollama.failures.extend([(503, "overloaded")] * 6)
        private = chat(rh, "openai", "auto", f"Explain this config: {SECRETS['db password']}", False)
        assert private.status_code >= 500, private.text
        assert len(ollama.failures) < 6, "the local model was tried"
        assert openai_standin.requests == [], "the private prompt fell back to the cloud"

        # A prompt without private data may fall back to the cloud, and every answer says so:
        # the route headers, the body's model and the ledger name the model that answered.
        cases = [("openai", False), ("openai", True), ("ollama", False), ("ollama", True)]
        for number, (dialect, stream) in enumerate(cases):
            ollama.failures[:] = [(503, "overloaded")] * 6
            # A prompt of its own each time, so that none is answered from the cache.
            public = chat(rh, dialect, "auto", f"Explain what a mutex is ({number}).", stream)
            assert model_of(public) == CLOUD_MODEL, (dialect, stream)
            assert "fell back to cloudy/gpt-4o" in public.headers["x-roundhouse-route-reasons"]
            assert answer_of(public, stream) == ({CLOUD_MODEL}, "Cloud stand-in answer."), (dialect, stream)
        assert len(openai_standin.requests) == 4
        row = rh.rows("SELECT model_used, route_json FROM requests ORDER BY ts DESC LIMIT 1")[0]
        assert row["model_used"] == CLOUD_MODEL and "fell back" in row["route_json"]


class RefusingOllama(OllamaStandin):
    def reply_text(self, prompt: str) -> str:
        return "I'm sorry, but I can't help with that."


def test_an_escalated_cascade_names_the_cloud_model_that_answered(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    with RefusingOllama(models=[FakeModel("qwen2.5-coder:7b", parameter_size="7B")]) as ollama:
        rh = start_beside(start_daemon, openai_standin, ollama, routing={"cascade": {"enabled": True}})
        # Two prompts the classifier sends to the cloud by a narrow margin (0.16 and 0.09).
        prompts = {False: BORDERLINE[0], True: BORDERLINE[1]}
        for stream, prompt in prompts.items():
            response = chat(rh, "openai", "auto", prompt, stream, max_tokens=32)
            assert model_of(response) == CLOUD_MODEL, stream
            reasons = response.headers["x-roundhouse-route-reasons"]
            assert "answering locally first" in reasons and "cascade escalated" in reasons
            assert answer_of(response, stream) == ({CLOUD_MODEL}, "Cloud stand-in answer.")
        asked_locally = [b["messages"][-1]["content"] for b in ollama.bodies("/api/chat")]
        assert asked_locally == list(prompts.values()), "the local model answers first"

        # The escalated answer is cached; replayed, it still names the model that gave it.
        again = chat(rh, "openai", "auto", BORDERLINE[0], True, max_tokens=32)
        assert again.headers["x-roundhouse-cache"] == "hit"
        assert model_of(again) == CLOUD_MODEL
        assert "an earlier answer of cloudy/gpt-4o" in again.headers["x-roundhouse-route-reasons"]
        assert answer_of(again, True) == ({CLOUD_MODEL}, "Cloud stand-in answer.")
        assert len(openai_standin.requests) == 2 and len(ollama.bodies("/api/chat")) == 2

        rows = rh.rows("SELECT model_used, cascade, cache FROM requests ORDER BY ts")
        assert [(r["model_used"], r["cache"]) for r in rows] == [
            (CLOUD_MODEL, "miss"),
            (CLOUD_MODEL, "miss"),
            (CLOUD_MODEL, "hit"),
        ]
        assert all(r["cascade"].startswith("escalated: the local model refused") for r in rows[:2])


def test_one_budget_of_upstream_calls_and_client_errors_are_not_retried(
    start_daemon: Callable[..., RunningDaemon], ollama_standin: OllamaStandin
) -> None:
    rh = start_daemon(
        embedded={"enabled": False},
        ollama={"hosts": [ollama_standin.url], "discover_local": False},
        residency={"enabled": False},
        cache={"enabled": False},
        routing={"knn": False, "backoff_s": 0.01},
    )
    model = "ollama/llama3.1:8b"
    ollama_standin.failures.extend([(503, "busy")])
    assert chat(rh, "openai", model, "hello", False).status_code == 200
    assert ollama_standin.failures == [], "a busy model is asked once more"

    ollama_standin.failures.extend([(503, "busy")] * 3)
    busy = chat(rh, "openai", model, "hello again", True)
    assert busy.status_code == 503 and busy.json()["error"]["message"] == "ollama answered 503: busy"
    assert len(ollama_standin.failures) == 1, "more than two upstream calls for one request"

    ollama_standin.failures[:] = [(400, "bad request"), (503, "busy")]
    refused = chat(rh, "openai", model, "hello once more", False)
    assert (
        refused.status_code == 400
        and refused.json()["error"]["message"] == "ollama answered 400: bad request"
    )
    assert ollama_standin.failures == [(503, "busy")], "a client error is not retried"


def test_decisions_explain_and_feedback(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    rh = start(start_daemon, openai_standin)
    response = chat(rh, "openai", "auto", "hi there", False)
    request_id = response.headers["x-roundhouse-request-id"]
    assert response.headers["x-roundhouse-route-tier"] == "fast"
    row = rh.rows("SELECT route_json, tier FROM requests WHERE id = ?", [request_id])[0]
    assert row["tier"] == "fast" and json.loads(row["route_json"])["reasons"]

    decisions = httpx.get(rh.url + "/control/v1/routing/decisions").json()["decisions"]
    assert (
        decisions[0]["request_id"] == request_id and decisions[0]["signals"]["complexity"]["tier"] == "fast"
    )

    explained = httpx.post(rh.url + "/control/v1/routing/explain", json={"prompt": HARD}).json()
    assert explained["model"] == CLOUD_MODEL and explained["signals"]["complexity"]["tier"] == "cloud"
    assert len(openai_standin.requests) == 0, "explaining runs nothing"

    learned = httpx.post(rh.url + "/control/v1/feedback", json={"request_id": request_id, "tier": "balanced"})
    assert learned.status_code == 200 and learned.json()["learned_tier"] == "balanced"
    rows = rh.rows("SELECT text, tier FROM routing_examples")
    assert rows == [{"text": "hi there", "tier": "balanced"}]
    missing = httpx.post(
        rh.url + "/control/v1/feedback", json={"request_id": "rh-unknown", "verdict": "good"}
    )
    assert missing.status_code == 404 and "rh-unknown" in missing.text
    bad = httpx.post(rh.url + "/control/v1/feedback", json={"request_id": request_id, "tier": "galaxy"})
    assert bad.status_code in (400, 422)


def test_policy_edits_apply_at_once_and_are_validated(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    rh = start(start_daemon, openai_standin)
    assert httpx.put(rh.url + "/control/v1/routing/mode/local").json() == {"mode": "local"}
    local = chat(rh, "openai", "auto", HARD, False)
    assert model_of(local) == "local/smollm2-135m"
    assert "local only" in local.headers["x-roundhouse-route-reasons"]
    invalid = httpx.patch(rh.url + "/control/v1/routing/policy", json={"tiers": {"galaxy": ["x"]}})
    assert invalid.status_code == 422 and "galaxy" in invalid.text
    edited = httpx.patch(
        rh.url + "/control/v1/routing/policy",
        json={"mode": "hybrid", "privacy": {"keywords": ["Nightingale"]}},
    )
    assert edited.status_code == 200 and edited.json()["policy"]["privacy"]["keywords"] == ["Nightingale"]
    keyword = chat(rh, "openai", "auto", f"{HARD} This is for project Nightingale.", False)
    assert model_of(keyword) == "local/smollm2-135m"
    assert openai_standin.requests == []
    assert rh.rows("SELECT patch FROM routing_policy")[0]["patch"].count("Nightingale") == 1
    tiers = httpx.get(rh.url + "/control/v1/routing/tiers").json()["tiers"]
    assert tiers["cloud"] == [CLOUD_MODEL, "cloudy/gpt-4o-mini"] and tiers["fast"] == ["local/smollm2-135m"]


@pytest.mark.parametrize("on_exhausted", ["local", "refuse"])
def test_budget_thresholds_and_exhaustion(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin, on_exhausted: str
) -> None:
    rh = start(
        start_daemon,
        openai_standin,
        spend={
            "budget": {"daily_usd": 0.01},
            "on_exhausted": on_exhausted,
            "prices": {CLOUD_MODEL: {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}},
        },
    )
    first = chat(rh, "openai", "auto", HARD, False)
    assert model_of(first) == CLOUD_MODEL
    wait_until(lambda: rh.daemon.spend.budget_block("unknown") is not None, "the budget to be spent")
    fired = [e.data for e in rh.daemon.events.recent(kinds={"budget.threshold"})]
    assert [e["threshold"] for e in fired] == [50, 80, 100] and fired[-1]["window"] == "daily"

    second = chat(rh, "openai", "auto", HARD, False)
    explicit = chat(rh, "ollama", CLOUD_MODEL, HARD, False)
    if on_exhausted == "local":
        assert model_of(second) == "local/smollm2-135m"
        assert "budget" in second.headers["x-roundhouse-route-reasons"]
        assert explicit.status_code == 200
    else:
        assert second.status_code == 402 and "budget" in second.json()["error"]["message"]
        assert explicit.status_code == 402 and "budget" in explicit.json()["error"]
    assert len(openai_standin.requests) == 1

    summary = httpx.get(rh.url + "/control/v1/spend").json()
    assert summary["budgets"]["overall"]["daily"]["exhausted"] is True
    assert summary["forecast"]["spent_usd"] >= 0.01
    providers = httpx.get(rh.url + "/control/v1/spend/by-provider").json()["providers"]
    assert providers[0]["name"] == "cloudy" and providers[0]["usd"] >= 0.01
    raised = httpx.patch(rh.url + "/control/v1/spend/budgets", json={"budget": {"daily_usd": 100}})
    assert raised.status_code == 200 and rh.daemon.spend.budget_block("unknown") is None
    bad = httpx.patch(rh.url + "/control/v1/spend/budgets", json={"budget": {"daily_usd": -1}})
    assert bad.status_code == 422


def test_the_decision_list_keeps_only_the_newest(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    rh = start(start_daemon, openai_standin, routing={"recent_decisions": 10})
    ids = [
        chat(rh, "openai", CLOUD_MODEL, f"question {i}", False).headers["x-roundhouse-request-id"]
        for i in range(90)
    ]
    listed = httpx.get(rh.url + "/control/v1/routing/decisions", params={"limit": 100}).json()["decisions"]
    assert [d["request_id"] for d in listed] == ids[::-1][:10]
    assert listed[0]["model"] == CLOUD_MODEL and listed[0]["reasons"] == ["explicit model"]
    assert "prompt" not in listed[0] and "gathered" not in listed[0]
    forgotten = httpx.post(rh.url + "/control/v1/feedback", json={"request_id": ids[0], "verdict": "good"})
    assert forgotten.status_code == 404 and "only the last 10" in forgotten.text
