"""A Messages request for an Anthropic model goes to Anthropic as it came: the official
`anthropic` SDK against a real daemon whose cloud backend calls a stand-in Anthropic server over
a real socket, with the key in the real OS keyring. Thinking blocks (with their signatures) and
cache_control marks survive both ways; `anthropic-version` and `anthropic-beta` arrive unchanged;
the ledger has Anthropic's usage and its cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import RunningDaemon, keyring_or_skip
from tests.standins.anthropic_server import AnthropicStandin

KEY = "sk-ant-test-native-0000111122223333"
MODEL = "anthropic/claude-sonnet-4-5"
BETA = "interleaved-thinking-2025-05-14,prompt-caching-2024-07-31"
VERSION = "2023-06-01"  # not the SDK's own default: what the client asks for is what is sent
HEADERS = {"anthropic-beta": BETA, "anthropic-version": VERSION}
SYSTEM: list[Any] = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}


def _messages(previous_thinking: dict[str, Any]) -> list[Any]:
    """A second turn: the assistant's earlier thinking block goes back, as Anthropic requires."""
    return [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": [previous_thinking, {"type": "text", "text": "Hello."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Again, please.", "cache_control": {"type": "ephemeral"}}],
        },
    ]


PREVIOUS = {"type": "thinking", "thinking": "Greet back.", "signature": "sig-of-turn-one"}


@pytest.fixture
def anthropic_standin() -> Iterator[AnthropicStandin]:
    with AnthropicStandin() as standin:
        yield standin


@pytest.fixture
def rh(
    start_daemon: Callable[..., RunningDaemon], anthropic_standin: AnthropicStandin, test_secrets: Any
) -> RunningDaemon:
    keyring_or_skip(test_secrets)
    test_secrets.set("anthropic", KEY)
    return start_daemon(
        cloud={
            "models": {"anthropic": ["claude-sonnet-4-5"]},
            "api_base": {"anthropic": anthropic_standin.url},
        },
        residency={"enabled": False},
    )


def sdk(rh: RunningDaemon) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=rh.url, api_key="not-needed-on-loopback", max_retries=0)


def _sent_as_is(standin: AnthropicStandin, stream: bool) -> None:
    body, headers = standin.requests[-1], standin.headers[-1]
    assert body["model"] == "claude-sonnet-4-5", "the provider's own model name"
    assert body["thinking"] == THINKING and body["system"] == SYSTEM
    assert body["messages"] == _messages(PREVIOUS), "thinking and cache_control blocks kept"
    assert body["max_tokens"] == 2048 and bool(body.get("stream")) is stream
    assert headers["anthropic-beta"] == BETA
    assert headers["anthropic-version"] == VERSION
    assert headers["x-api-key"] == KEY, "the keyring's key, not the client's"


def _ledger(rh: RunningDaemon, request_id: str, standin: AnthropicStandin) -> None:
    row = rh.rows("SELECT * FROM requests WHERE id = ?", [request_id])[0]
    assert row["status"] == 200 and row["dialect"] == "anthropic"
    assert row["model_used"] == MODEL and row["backend"] == "cloud"
    assert row["tokens_in"] == standin.usage["input_tokens"]
    assert row["tokens_out"] == standin.usage["output_tokens"]
    assert row["cost_usd"] > 0


def test_a_whole_message_goes_to_anthropic_as_it_came(
    rh: RunningDaemon, anthropic_standin: AnthropicStandin
) -> None:
    raw = sdk(rh).messages.with_raw_response.create(
        model=MODEL,
        max_tokens=2048,
        system=SYSTEM,
        thinking=THINKING,
        messages=_messages(PREVIOUS),
        extra_headers=HEADERS,
    )
    message = raw.parse()
    _sent_as_is(anthropic_standin, stream=False)
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == anthropic_standin.thinking
    assert thinking.signature == anthropic_standin.signature
    assert text.type == "text" and text.text == anthropic_standin.reply
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 13
    assert raw.headers["x-roundhouse-route-model"] == MODEL
    _ledger(rh, raw.headers["x-roundhouse-request-id"], anthropic_standin)

    again = sdk(rh).messages.create(
        model=MODEL, max_tokens=2048, system=SYSTEM, thinking=THINKING, messages=_messages(PREVIOUS)
    )
    assert len(anthropic_standin.requests) == 2, "an answer with thinking is not replayed from the cache"
    assert [b.type for b in again.content] == ["thinking", "text"]


def test_a_stream_comes_back_with_anthropic_s_own_events(
    rh: RunningDaemon, anthropic_standin: AnthropicStandin
) -> None:
    with sdk(rh).messages.stream(
        model=MODEL,
        max_tokens=2048,
        system=SYSTEM,
        thinking=THINKING,
        messages=_messages(PREVIOUS),
        extra_headers=HEADERS,
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["x-roundhouse-request-id"]
    _sent_as_is(anthropic_standin, stream=True)
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert deltas.count("thinking_delta") == 2 and deltas.count("signature_delta") == 1
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == anthropic_standin.thinking
    assert thinking.signature == anthropic_standin.signature
    assert text.type == "text" and text.text == anthropic_standin.reply
    assert final.usage.input_tokens == 21 and final.usage.output_tokens == 13
    assert final.stop_reason == "end_turn"
    _ledger(rh, request_id, anthropic_standin)


def test_provider_errors_reach_the_client_without_the_key(
    rh: RunningDaemon, anthropic_standin: AnthropicStandin
) -> None:
    anthropic_standin.failures.append((400, f"thinking.budget_tokens too large (key {KEY})"))
    response = httpx.post(
        rh.url + "/v1/messages",
        json={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        headers={"anthropic-version": "2023-06-01"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error" and "budget_tokens" in response.json()["error"]["message"]
    assert KEY not in response.text


def test_other_dialects_still_take_the_translated_way(
    rh: RunningDaemon, anthropic_standin: AnthropicStandin
) -> None:
    """An OpenAI client of a Claude model: litellm translates, to the same Messages endpoint."""
    response = httpx.post(
        rh.url + "/v1/chat/completions",
        json={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert anthropic_standin.reply in response.json()["choices"][0]["message"]["content"]
    assert "thinking" not in anthropic_standin.requests[-1]


EMAIL = "maria.garcia84@gmail.com"
SECRET_PROMPT = f"Write to {EMAIL} that the database password is postgres://app:Tr0ub4dor&3@db:5432/prod"


def _ask(rh: RunningDaemon, content: str) -> httpx.Response:
    return httpx.post(
        rh.url + "/v1/messages",
        json={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": content}]},
        headers={"anthropic-version": VERSION},
        timeout=120,
    )


def test_a_private_prompt_to_claude_stays_local(
    rh: RunningDaemon, anthropic_standin: AnthropicStandin
) -> None:
    response = _ask(rh, SECRET_PROMPT)
    assert response.status_code == 200, response.text
    assert response.headers["x-roundhouse-route-model"] != MODEL
    assert anthropic_standin.requests == []


def test_a_masked_prompt_is_never_sent_as_the_client_wrote_it(
    start_daemon: Callable[..., RunningDaemon],
    anthropic_standin: AnthropicStandin,
    test_secrets: Any,
) -> None:
    """Masking changes what goes out, so the client's own body cannot: the masked translation does."""
    keyring_or_skip(test_secrets)
    test_secrets.set("anthropic", KEY)
    rh = start_daemon(
        cloud={
            "models": {"anthropic": ["claude-sonnet-4-5"]},
            "api_base": {"anthropic": anthropic_standin.url},
        },
        residency={"enabled": False},
        routing={"privacy": {"mode": "mask"}},
    )
    response = _ask(rh, SECRET_PROMPT)
    assert response.status_code == 200, response.text
    assert response.headers["x-roundhouse-route-model"] == MODEL
    (sent,) = anthropic_standin.requests
    assert EMAIL not in str(sent) and "Tr0ub4dor" not in str(sent) and "[EMAIL_1]" in str(sent)
