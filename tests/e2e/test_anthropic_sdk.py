"""The official `anthropic` SDK against a real daemon: the embedded model for text, and an
OpenAI-compatible stand-in upstream for tool calls (the small local model does not call tools
reliably), over real sockets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.standins.openai_server import OpenAIStandin

CHAT_MODEL = "local/smollm2-135m"
TOOL_MODEL = "upstream/gpt-4o"
TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
    {
        "name": "get_time",
        "description": "The time in a time zone",
        "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
    },
]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "note": 'a "quoted" word'}},
    {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    return start_daemon()


def sdk(rh: RunningDaemon, api_key: str = "not-needed-on-loopback") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=rh.url, api_key=api_key, max_retries=0)


@pytest.fixture
def client(rh: RunningDaemon) -> anthropic.Anthropic:
    return sdk(rh)


@pytest.fixture
def upstream(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> tuple[anthropic.Anthropic, OpenAIStandin]:
    openai_standin.tool_calls = list(CALLS)
    rh = start_daemon(openai_compat=[{"name": "upstream", "base_url": openai_standin.url, "local": True}])
    return sdk(rh), openai_standin


@pytest.mark.compat(client="anthropic (Python)", feature="chat")
def test_messages_create_answers_from_the_real_model(client: anthropic.Anthropic, rh: RunningDaemon) -> None:
    raw = client.messages.with_raw_response.create(
        model=CHAT_MODEL,
        max_tokens=20,
        extra_body={"temperature": 0},
        system=[{"type": "text", "text": "Answer in one word."}],
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and "paris" in message.content[0].text.lower()
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert raw.headers["x-roundhouse-route-model"] == CHAT_MODEL
    row = rh.rows("SELECT * FROM requests WHERE id = ?", [raw.headers["x-roundhouse-request-id"]])[0]
    assert row["dialect"] == "anthropic" and row["status"] == 200 and row["model_used"] == CHAT_MODEL
    assert row["tokens_out"] == message.usage.output_tokens


@pytest.mark.compat(client="anthropic (Python)", feature="stream")
def test_messages_stream_text_events_and_final_usage(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=CHAT_MODEL,
        max_tokens=30,
        messages=[{"role": "user", "content": "Count from one to five."}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1, "the answer must arrive in several text deltas"
    assert final.content[0].type == "text" and final.content[0].text == "".join(pieces)
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0
    assert final.stop_reason in ("end_turn", "max_tokens")

    events = list(
        client.messages.create(
            model=CHAT_MODEL, max_tokens=8, stream=True, messages=[{"role": "user", "content": "Hi there"}]
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == 1 and kinds.count("content_block_stop") == 1


def test_a_stop_sequence_that_ends_the_answer_is_named(client: anthropic.Anthropic) -> None:
    asked: dict[str, Any] = {
        "model": CHAT_MODEL,
        "max_tokens": 40,
        "extra_body": {"temperature": 0},
        "messages": [{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
        "stop_sequences": ["7", "4"],  # the model counts "1, 2, 3, 4, ...": "4" comes first
    }
    message = client.messages.create(**asked)
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "4"
    assert message.content[0].type == "text" and message.content[0].text.strip() == "1, 2, 3,"

    with client.messages.stream(**asked) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.strip() == "1, 2, 3," and "4" not in text
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "4"

    asked["stop_sequences"] = ["never said"]
    unmatched = client.messages.create(**asked)
    assert unmatched.stop_reason in ("end_turn", "max_tokens") and unmatched.stop_sequence is None


@pytest.mark.compat(client="anthropic (Python)", feature="count_tokens")
def test_count_tokens_and_models(client: anthropic.Anthropic) -> None:
    short = client.messages.count_tokens(model=CHAT_MODEL, messages=[{"role": "user", "content": "Hello"}])
    long = client.messages.count_tokens(
        model=CHAT_MODEL,
        system="You are a helpful assistant.",
        messages=[{"role": "user", "content": "Hello " * 200}],
        tools=TOOLS,
    )
    assert 0 < short.input_tokens < long.input_tokens
    models = list(client.models.list())
    assert CHAT_MODEL in [m.id for m in models]
    assert all(m.type == "model" and m.display_name and m.created_at for m in models)
    assert client.models.retrieve(CHAT_MODEL).id == CHAT_MODEL


def test_openai_clients_still_get_the_openai_model_list(rh: RunningDaemon) -> None:
    body = httpx.get(rh.url + "/v1/models").json()
    assert body["object"] == "list" and body["data"][0]["object"] == "model"


@pytest.mark.compat(client="anthropic (Python)", feature="errors")
def test_errors_come_in_anthropic_shape(client: anthropic.Anthropic, rh: RunningDaemon) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post(
            "/v1/messages",
            cast_to=object,
            body={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error" and "max_tokens" in body["error"]["message"]

    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=CHAT_MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"temperature": 1.5},
        )
    assert "temperature" in str(caught.value)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=CHAT_MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}],
        )
    assert "messages.0.content.0.type" in str(caught.value)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(
            model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == "not_found_error"

    with pytest.raises(anthropic.AuthenticationError) as caught:
        sdk(rh, api_key="rh-not-a-token").messages.create(
            model=CHAT_MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert (
        isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == "authentication_error"
    )


def test_an_app_token_in_x_api_key_names_the_app(client: anthropic.Anthropic, rh: RunningDaemon) -> None:
    token = rh.daemon.tokens.create("claude-code")
    raw = sdk(rh, api_key=token).messages.with_raw_response.create(
        model=CHAT_MODEL, max_tokens=5, messages=[{"role": "user", "content": "Say hi"}]
    )
    row = rh.rows("SELECT * FROM requests WHERE id = ?", [raw.headers["x-roundhouse-request-id"]])[0]
    assert row["app"] == "claude-code"


def _upstream_call(standin: OpenAIStandin) -> dict[str, Any]:
    return standin.requests[-1]


@pytest.mark.compat(client="anthropic (Python)", feature="tools")
def test_tool_use_blocks_non_stream_and_stream(upstream: tuple[anthropic.Anthropic, OpenAIStandin]) -> None:
    client, standin = upstream
    message = client.messages.create(
        model=TOOL_MODEL,
        max_tokens=100,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
    )
    assert message.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in message.content if b.type == "tool_use"] == [
        ("tool_use", c["name"], c["arguments"]) for c in CALLS
    ]
    sent = _upstream_call(standin)
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": TOOLS[0]["input_schema"],
        },
    }

    events = []
    with client.messages.stream(
        model=TOOL_MODEL,
        max_tokens=100,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Weather and time in Paris, streamed?"}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    starts = [e for e in events if e.type == "content_block_start"]
    assert [(e.index, e.content_block.type) for e in starts] == [(0, "tool_use"), (1, "tool_use")]
    for index, call in enumerate(CALLS):
        partial = "".join(
            e.delta.partial_json
            for e in events
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta" and e.index == index
        )
        assert json.loads(partial) == call["arguments"], "each call's arguments exactly once, in its block"
    assert [e.index for e in events if e.type == "content_block_stop"] == [0, 1]
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in final.content] == [
        ("tool_use", c["name"], c["arguments"]) for c in CALLS
    ]
    assert final.content[0].id != final.content[1].id


@pytest.mark.compat(client="anthropic (Python)", feature="tools round trip")
def test_tool_results_reach_the_upstream_as_openai_tool_messages(
    upstream: tuple[anthropic.Anthropic, OpenAIStandin],
) -> None:
    client, standin = upstream
    question = {"role": "user", "content": "Weather and time in Paris?"}
    first = client.messages.create(model=TOOL_MODEL, max_tokens=100, tools=TOOLS, messages=[question])
    weather, clock = first.content
    standin.tool_calls = []  # now the upstream answers in text
    reply = client.messages.create(
        model=TOOL_MODEL,
        max_tokens=100,
        tools=TOOLS,
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": weather.id, "content": "18°C and sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": clock.id,
                        "content": [{"type": "text", "text": "unknown zone"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "Summarise, please."},
                ],
            },
            {"role": "system", "content": "Answer in English."},  # Claude Code's mid-conversation system
        ],
    )
    assert reply.content[0].type == "text" and reply.content[0].text == standin.reply
    assert reply.stop_reason == "end_turn"
    messages = _upstream_call(standin)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user", "system"]
    calls = messages[1]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        (weather.id, "get_weather"),
        (clock.id, "get_time"),
    ]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [c["arguments"] for c in CALLS]
    assert messages[2] == {"role": "tool", "tool_call_id": weather.id, "content": "18°C and sunny"}
    assert messages[3]["tool_call_id"] == clock.id and "unknown zone" in messages[3]["content"]
    assert messages[3]["content"].startswith("Error")
    assert messages[4] == {"role": "user", "content": "Summarise, please."}


def test_a_stream_cut_mid_tool_call_is_an_error_not_a_tool_use(
    upstream: tuple[anthropic.Anthropic, OpenAIStandin],
) -> None:
    client, standin = upstream
    standin.cut_mid_tool_call = True
    seen: list[Any] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(
            model=TOOL_MODEL,
            max_tokens=100,
            tools=TOOLS,
            messages=[{"role": "user", "content": "Weather in Paris, but the line drops"}],
        ) as stream:
            for event in stream:
                seen.append(event)
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "error"
    assert any(e.type == "content_block_start" and e.content_block.type == "tool_use" for e in seen)
    assert not any(e.type in ("content_block_stop", "message_delta", "message_stop") for e in seen)


@pytest.mark.compat(client="anthropic (Python)", feature="images")
def test_images_reach_the_upstream_as_image_url_parts(
    upstream: tuple[anthropic.Anthropic, OpenAIStandin],
) -> None:
    client, standin = upstream
    standin.tool_calls = []
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    client.messages.create(
        model=TOOL_MODEL,
        max_tokens=20,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these pictures?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": pixel}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    assert standin.requests[-1]["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these pictures?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{pixel}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        }
    ]
