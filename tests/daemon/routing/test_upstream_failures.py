"""A real daemon in front of an upstream that misbehaves on a raw socket: silent, half-sent,
trickling, failing, rate limiting, or answering nonsense. What the client gets, how many
calls the upstream sees, and that the next request is not held up by the last one.

Deadlines are set to a second or two here; the elapsed-time bounds below are hang guards
(the old behaviour was minutes), not speed figures.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.standins.misbehaving_upstream import REPLY, MisbehavingUpstream

HANG_GUARD_S = 10.0
QUICK = {"local_first_byte_s": 1, "local_idle_s": 1}


@pytest.fixture
def upstream() -> Any:
    with MisbehavingUpstream() as standin:
        yield standin


def start(
    start_daemon: Callable[..., RunningDaemon],
    upstream: MisbehavingUpstream,
    *,
    deadlines: dict[str, float] | None = None,
    chain: list[str] | None = None,
    **settings: Any,
) -> RunningDaemon:
    routing: dict[str, Any] = {"knn": False, "deadlines": deadlines or QUICK}
    if chain:  # the order `model: "local"` tries the stand-in's models in
        routing["tiers"] = {tier: [f"bad/{m}" for m in chain] for tier in ("fast", "balanced", "reasoning")}
    merged: dict[str, Any] = {
        "embedded": {"enabled": False},
        "openai_compat": [{"name": "bad", "base_url": upstream.url}],
        "residency": {"enabled": False},
        "cache": {"enabled": False},
        "routing": routing,
    }
    merged.update(settings)
    return start_daemon(**merged)


def ask(rh: RunningDaemon, model: str, *, stream: bool = False, dialect: str = "openai") -> httpx.Response:
    messages = [{"role": "user", "content": "Say hello."}]
    if dialect == "ollama":
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
        return httpx.post(rh.url + "/api/chat", json=body, timeout=60)
    body = {"model": model, "messages": messages, "stream": stream, "max_tokens": 8}
    return httpx.post(rh.url + "/v1/chat/completions", json=body, timeout=60)


def timed(rh: RunningDaemon, model: str, **options: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = ask(rh, model, **options)
    return response, time.monotonic() - started


def test_a_silent_upstream_is_a_504_at_its_deadline_and_is_not_waited_on_again(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    rh = start(start_daemon, upstream)
    for model, stream, dialect in (("silent", False, "openai"), ("headers", True, "ollama")):
        response, elapsed = timed(rh, f"bad/{model}", stream=stream, dialect=dialect)
        assert elapsed < HANG_GUARD_S, f"{model}: the client waited {elapsed:.0f} s"
        assert response.status_code == 504, response.text
        message = response.json()["error"]
        message = message["message"] if dialect == "openai" else message
        assert "first-byte deadline" in message and f"bad/{model}" in message
        assert len(upstream.calls_to(model)) == 1, "a timed-out attempt is not made again"

        # The host that missed its deadline is cooling: the next request is answered at once.
        again = ask(rh, f"bad/{model}", stream=stream, dialect=dialect)
        assert again.status_code == 503 and int(again.headers["retry-after"]) >= 1, again.text
        assert len(upstream.calls_to(model)) == 1, "the cooling host was asked again"

    rows = rh.rows("SELECT model_used, status, error_kind FROM requests ORDER BY ts")
    assert [(r["status"], r["error_kind"]) for r in rows] == [
        (504, "first_byte_timeout"),
        (503, "cooling_down"),
        (504, "first_byte_timeout"),
        (503, "cooling_down"),
    ]


def test_a_stream_that_stalls_after_it_started_ends_with_an_error_event(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    rh = start(start_daemon, upstream)
    response, elapsed = timed(rh, "bad/trickle", stream=True)
    assert elapsed < HANG_GUARD_S
    assert response.status_code == 200  # the stream had started
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == REPLY[:5]
    error = json.loads(events[-2])["error"]
    assert "idle deadline" in error["message"] and error["code"] == "idle_timeout"
    assert events[-1] == "[DONE]"


def test_an_upstream_500_is_not_sent_again_and_its_traceback_stays_there(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    rh = start(start_daemon, upstream, chain=["error500", "ok"])
    response = ask(rh, "bad/error500")
    assert response.status_code == 500
    message = response.json()["error"]["message"]
    assert message == "upstream bad answered 500"
    assert "Traceback" not in response.text and "SERVER_SECRET" not in response.text
    assert len(upstream.calls_to("error500")) == 1, "the same request was sent to a failing upstream again"

    # With somewhere to fall back to: two upstream calls in all, and the next model answers.
    fell_back = ask(rh, "local")
    assert fell_back.status_code == 200, fell_back.text
    assert fell_back.json()["choices"][0]["message"]["content"] == REPLY
    assert fell_back.headers["x-roundhouse-route-model"] == "bad/ok"
    assert len(upstream.calls) == 3


def test_retry_after_is_honoured_when_it_fits_and_passed_on_when_not(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    upstream.retry_after_s = 7  # longer than the request's deadline: not waited for
    rh = start(start_daemon, upstream, chain=["ratelimit", "ok"])
    response = ask(rh, "bad/ratelimit")
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["message"] == "upstream bad answered 429: Rate limit reached for requests"
    assert len(upstream.calls_to("ratelimit")) == 1

    fell_back = ask(rh, "local")
    assert fell_back.status_code == 200 and fell_back.headers["x-roundhouse-route-model"] == "bad/ok"

    upstream.retry_after_s = 1  # within the deadline: waited for, then asked once more
    roomier = {"deadlines": {"local_first_byte_s": 3, "local_idle_s": 3}}
    assert httpx.patch(rh.url + "/control/v1/routing/policy", json=roomier).status_code == 200
    before = len(upstream.calls_to("ratelimit"))
    again, elapsed = timed(rh, "bad/ratelimit", stream=True)
    assert again.status_code == 429 and again.headers["retry-after"] == "1"
    assert len(upstream.calls_to("ratelimit")) - before == 2
    calls = upstream.calls_to("ratelimit")[-2:]
    assert calls[1].at - calls[0].at >= 1.0, "the retry did not wait for Retry-After"
    assert elapsed < HANG_GUARD_S


@pytest.mark.parametrize(("model", "stream"), [("badjson", False), ("nodata", True)])
def test_a_malformed_answer_falls_back_or_is_a_502(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream, model: str, stream: bool
) -> None:
    rh = start(start_daemon, upstream, chain=[model, "ok"])
    alone = ask(rh, f"bad/{model}", stream=stream)
    assert alone.status_code == 502, alone.text
    assert alone.json()["error"]["code"] == "bad_upstream_answer"

    fell_back = ask(rh, "local", stream=stream)
    assert fell_back.status_code == 200 and fell_back.headers["x-roundhouse-route-model"] == "bad/ok"
    assert REPLY in fell_back.text
    assert len(upstream.calls_to(model)) == 2 and len(upstream.calls_to("ok")) == 1


def test_a_stream_that_ends_before_its_answer_is_an_error_not_half_an_answer(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    rh = start(start_daemon, upstream)
    reply = ask(rh, "bad/cut", stream=True)
    # The first words were already sent, so the stream ends with an error event, not as a finished
    # answer.
    assert reply.status_code == 200
    assert "ended before the answer did" in reply.text, reply.text
    assert '"finish_reason":"stop"' not in reply.text.replace(" ", ""), reply.text


def test_a_client_that_leaves_a_non_stream_request_cancels_it(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    # Deadlines far away: only the client's leaving can end the wait.
    rh = start(start_daemon, upstream, deadlines={"local_first_byte_s": 120, "local_idle_s": 120})
    body = json.dumps({"model": "bad/silent", "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    client = socket.create_connection(("127.0.0.1", rh.server.port))
    client.sendall(head + body)
    deadline = time.monotonic() + HANG_GUARD_S
    while not upstream.calls_to("silent"):
        assert time.monotonic() < deadline, "the request never reached the upstream"
        time.sleep(0.02)
    client.close()

    call = upstream.calls_to("silent")[0]
    while call.closed_at is None:
        assert time.monotonic() < deadline, "the upstream call went on after its client left"
        time.sleep(0.02)

    # The backend's only slot is free: the next request is answered, not queued behind it.
    after = ask(rh, "bad/ok")
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"] == REPLY
    rows = rh.rows("SELECT model_asked, status, error_kind FROM requests ORDER BY ts")
    assert [(r["model_asked"], r["status"], r["error_kind"]) for r in rows] == [
        ("bad/silent", 499, "client_closed"),
        ("bad/ok", 200, None),
    ]


def test_a_named_model_is_never_swapped_for_one_of_unknown_context(
    start_daemon: Callable[..., RunningDaemon], upstream: MisbehavingUpstream
) -> None:
    rh = start(start_daemon, upstream, embedded={"enabled": True, "context_length": 2048})
    long_prompt = "Summarize this log line by line. " + "disk 42 is at 97 percent; " * 1300
    body = {"model": "local/smollm2-135m", "messages": [{"role": "user", "content": long_prompt}]}
    response = httpx.post(rh.url + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "local/smollm2-135m" in error["message"] and "2048 tokens" in error["message"]
    assert upstream.calls == [], "another model was asked instead"
