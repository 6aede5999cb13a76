"""The official `openai` SDK's Responses API against a real daemon: the embedded model for text,
and an OpenAI-compatible stand-in upstream (which records what it received) for conversation
state, structured output and function calls, over real sockets. Every event and Response is
also validated strictly against the SDK's own types."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.conftest import RunningDaemon
from tests.standins.openai_server import OpenAIStandin

CHAT_MODEL = "local/smollm2-135m"
UPSTREAM_MODEL = "upstream/gpt-4o"
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
        "strict": False,
    },
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}},
]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "note": 'a "quoted" word'}},
    {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="not-needed-on-loopback", max_retries=0)


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    return start_daemon()


@pytest.fixture
def client(rh: RunningDaemon) -> openai.OpenAI:
    return sdk(rh.url)


@pytest.fixture
def upstream_rh(start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin) -> RunningDaemon:
    return start_daemon(openai_compat=[{"name": "upstream", "base_url": openai_standin.url, "local": True}])


@pytest.fixture
def upstream(
    upstream_rh: RunningDaemon, openai_standin: OpenAIStandin
) -> tuple[openai.OpenAI, OpenAIStandin]:
    return sdk(upstream_rh.url), openai_standin


def strict(events: list[Any]) -> list[Any]:
    """The events, each validated against the SDK's types (its parser alone is lenient)."""
    return [EVENTS.validate_python(e.to_dict()) for e in events]


@pytest.mark.compat(client="openai (Python, Responses)", feature="chat")
def test_create_answers_from_the_real_model(client: openai.OpenAI, rh: RunningDaemon) -> None:
    raw = client.responses.with_raw_response.create(
        model=CHAT_MODEL,
        instructions="Answer in one word.",
        input="What is the capital of France?",
        max_output_tokens=20,
        temperature=0,
        store=False,
    )
    response = raw.parse()
    Response.model_validate(raw.http_response.json())
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status in ("completed", "incomplete") and response.model == CHAT_MODEL
    assert "paris" in response.output_text.lower()
    message = response.output[0]
    assert message.type == "message" and message.content[0].type == "output_text"
    assert message.content[0].annotations == []
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert raw.headers["x-roundhouse-route-model"] == CHAT_MODEL
    row = rh.rows("SELECT * FROM requests WHERE id = ?", [raw.headers["x-roundhouse-request-id"]])[0]
    assert row["dialect"] == "responses" and row["status"] == 200 and row["model_used"] == CHAT_MODEL
    assert row["tokens_out"] == response.usage.output_tokens


def test_a_short_limit_makes_an_incomplete_response(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=CHAT_MODEL, input="Write a long story about a dragon.", max_output_tokens=3, store=False
    )
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert response.output[0].status == "incomplete"


@pytest.mark.compat(client="openai (Python, Responses)", feature="stream")
def test_stream_sends_typed_events_in_order(client: openai.OpenAI) -> None:
    events = strict(
        list(
            client.responses.create(
                model=CHAT_MODEL, input="Count from one to five.", max_output_tokens=40, stream=True
            )
        )
    )
    kinds = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed" if kinds[-1] == "response.completed" else "response.incomplete",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1, "the answer must arrive in several deltas"
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == "".join(deltas) and done.text.strip()
    final = events[-1].response
    assert final.output_text == done.text and final.output[0].status in ("completed", "incomplete")
    assert final.usage is not None and final.usage.output_tokens > 0

    with client.responses.stream(model=CHAT_MODEL, input="Say hello.", max_output_tokens=200) as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        assert stream.get_final_response().output_text == "".join(texts)


@pytest.mark.compat(client="openai (Python, Responses)", feature="previous_response_id")
def test_previous_response_id_continues_the_conversation(
    upstream: tuple[openai.OpenAI, OpenAIStandin],
) -> None:
    client, standin = upstream
    first = client.responses.create(model=UPSTREAM_MODEL, instructions="Be brief.", input="My name is Ada.")
    assert first.output_text == standin.reply
    assert standin.requests[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
    ]
    second = client.responses.create(
        model=UPSTREAM_MODEL,
        previous_response_id=first.id,
        input=[{"role": "developer", "content": "Answer kindly."}, {"role": "user", "content": "My name?"}],
        stream=True,
    )
    final = next(e for e in second if e.type == "response.completed").response
    assert final.previous_response_id == first.id
    # The first turn's instructions are not carried over, as OpenAI has it.
    assert standin.requests[-1]["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": standin.reply},
        {"role": "system", "content": "Answer kindly."},
        {"role": "user", "content": "My name?"},
    ]
    client.responses.create(model=UPSTREAM_MODEL, previous_response_id=final.id, input="And again?")
    assert [m["content"] for m in standin.requests[-1]["messages"]] == [
        "My name is Ada.",
        standin.reply,
        "Answer kindly.",
        "My name?",
        standin.reply,
        "And again?",
    ]


def test_stored_responses_can_be_read_listed_and_deleted(
    upstream: tuple[openai.OpenAI, OpenAIStandin],
) -> None:
    client, standin = upstream
    unkept = client.responses.create(model=UPSTREAM_MODEL, input="Forget this.", store=False)
    assert unkept.store is False
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(unkept.id)
    assert isinstance(caught.value.body, dict) and unkept.id in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=UPSTREAM_MODEL, previous_response_id=unkept.id, input="and?")
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == "previous_response_id"

    kept = client.responses.create(model=UPSTREAM_MODEL, input="Keep this.", metadata={"topic": "test"})
    again = client.responses.retrieve(kept.id)
    assert again.id == kept.id and again.output_text == standin.reply and again.metadata == {"topic": "test"}
    assert again.status == "completed" and again.usage is not None
    items = client.responses.input_items.list(kept.id)
    assert [(i.type, i.role, i.content[0].text) for i in items.data] == [("message", "user", "Keep this.")]

    client.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(kept.id)


def test_responses_are_kept_per_app(upstream_rh: RunningDaemon) -> None:
    mine = sdk(upstream_rh.url)
    theirs = openai.OpenAI(
        base_url=upstream_rh.url + "/v1", api_key=upstream_rh.daemon.tokens.create("editor"), max_retries=0
    )
    kept = mine.responses.create(model=UPSTREAM_MODEL, input="Mine alone.")
    with pytest.raises(openai.NotFoundError):
        theirs.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.delete(kept.id)
    with pytest.raises(openai.BadRequestError):
        theirs.responses.create(model=UPSTREAM_MODEL, previous_response_id=kept.id, input="Tell me.")
    assert mine.responses.retrieve(kept.id).output_text == kept.output_text


@pytest.mark.compat(client="openai (Python, Responses)", feature="json_schema")
def test_text_format_reaches_the_upstream_as_response_format(
    upstream: tuple[openai.OpenAI, OpenAIStandin],
) -> None:
    client, standin = upstream
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response = client.responses.create(
        model=UPSTREAM_MODEL,
        input="Which city?",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
    )
    assert standin.requests[-1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": schema, "strict": True},
    }
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    client.responses.create(
        model=UPSTREAM_MODEL, input="JSON, please", text={"format": {"type": "json_object"}}
    )
    assert standin.requests[-1]["response_format"] == {"type": "json_object"}


def _calls(output: list[Any]) -> list[tuple[str, str, Any]]:
    return [(o.call_id, o.name, json.loads(o.arguments)) for o in output if o.type == "function_call"]


EXPECTED = [(f"call_{i}_{c['name']}", c["name"], c["arguments"]) for i, c in enumerate(CALLS)]


@pytest.mark.compat(client="openai (Python, Responses)", feature="tools")
def test_function_calls_non_stream(upstream: tuple[openai.OpenAI, OpenAIStandin]) -> None:
    client, standin = upstream
    standin.tool_calls = list(CALLS)
    response = client.responses.create(
        model=UPSTREAM_MODEL,
        input="Weather and time in Paris?",
        tools=TOOLS,
        tool_choice="required",
        store=False,
    )
    assert _calls(response.output) == EXPECTED
    assert [o.status for o in response.output] == ["completed", "completed"]
    assert response.output[0].arguments == json.dumps(CALLS[0]["arguments"])
    sent = standin.requests[-1]
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": TOOLS[0]["parameters"],
            "strict": False,
        },
    }


@pytest.mark.xfail(
    strict=False,
    reason="known defect, cause not found yet: on a fresh daemon, a stream that follows a non-stream "
    "function call sometimes gets only the upstream's first event before the upstream response ends "
    "(about 1 in 3 fresh daemons). It now ends as response.failed with an error instead of an empty "
    "response.completed; suspect the reused keep-alive connection to the upstream",
)
def test_function_calls_streamed(upstream: tuple[openai.OpenAI, OpenAIStandin]) -> None:
    client, standin = upstream
    standin.tool_calls = list(CALLS)
    events = strict(
        list(client.responses.create(model=UPSTREAM_MODEL, input="Streamed?", tools=TOOLS, stream=True))
    )
    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert [(i.type, i.call_id, i.name, i.arguments) for i in added] == [
        ("function_call", call_id, name, "") for call_id, name, _ in EXPECTED
    ]
    for index, (_, name, arguments) in enumerate(EXPECTED):
        deltas = "".join(
            e.delta
            for e in events
            if e.type == "response.function_call_arguments.delta" and e.output_index == index
        )
        done = [
            e for e in events if e.type == "response.function_call_arguments.done" and e.output_index == index
        ]
        assert json.loads(deltas) == arguments and done[0].arguments == deltas and done[0].name == name
    final = events[-1]
    assert final.type == "response.completed" and _calls(final.response.output) == EXPECTED


@pytest.mark.compat(client="openai (Python, Responses)", feature="tools round trip")
def test_function_call_outputs_reach_the_upstream_as_tool_messages(
    upstream: tuple[openai.OpenAI, OpenAIStandin],
) -> None:
    client, standin = upstream
    standin.tool_calls = list(CALLS)
    question = {"role": "user", "content": "Weather and time in Paris?"}
    first = client.responses.create(model=UPSTREAM_MODEL, input=[question], tools=TOOLS)
    weather, clock = first.output
    standin.tool_calls = []  # now the upstream answers in text
    results: list[Any] = [
        {"type": "function_call_output", "call_id": weather.call_id, "output": "18°C and sunny"},
        {
            "type": "function_call_output",
            "call_id": clock.call_id,
            "output": [{"type": "input_text", "text": "9:00"}],
        },
    ]
    expected = [
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": "",  # as llama.cpp's chat templates need it
            "tool_calls": [
                {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in (weather, clock)
            ],
        },
        {"role": "tool", "tool_call_id": weather.call_id, "content": "18°C and sunny"},
        {"role": "tool", "tool_call_id": clock.call_id, "content": "9:00"},
    ]
    # Continued from the stored response...
    reply = client.responses.create(
        model=UPSTREAM_MODEL, previous_response_id=first.id, input=results, tools=TOOLS
    )
    assert reply.output_text == standin.reply
    assert standin.requests[-1]["messages"] == expected
    # ...and statelessly, the client sending the whole conversation back (as Codex does).
    items = [question, *(o.to_dict() for o in first.output), *results]
    client.responses.create(model=UPSTREAM_MODEL, input=items, tools=TOOLS, store=False)
    assert standin.requests[-1]["messages"] == expected


def test_hosted_tools_are_left_out_and_namespaced_functions_offered(
    upstream: tuple[openai.OpenAI, OpenAIStandin],
) -> None:
    client, standin = upstream
    tools: list[Any] = [
        {"type": "web_search", "external_web_access": False},
        {
            "type": "namespace",
            "name": "agents",
            "description": "Sub-agents",
            "tools": [
                {"type": "function", "name": "spawn", "parameters": {"type": "object", "properties": {}}}
            ],
        },
    ]
    standin.tool_calls = [{"name": "agents__spawn", "arguments": {}}]
    response = client.responses.create(model=UPSTREAM_MODEL, input="Spawn one.", tools=tools, store=False)
    assert [t["function"]["name"] for t in standin.requests[-1]["tools"]] == ["agents__spawn"]
    call = response.output[0]
    assert call.type == "function_call" and (call.namespace, call.name) == ("agents", "spawn")
    standin.tool_calls = []
    done = {"type": "function_call_output", "call_id": call.call_id, "output": "spawned"}
    client.responses.create(model=UPSTREAM_MODEL, input=[call.to_dict(), done], tools=tools, store=False)
    assert standin.requests[-1]["messages"][0]["tool_calls"][0]["function"]["name"] == "agents__spawn"
    # With only hosted tools there is nothing to offer, and nothing to choose.
    client.responses.create(model=UPSTREAM_MODEL, input="Search?", tools=tools[:1], tool_choice="required")
    assert "tools" not in standin.requests[-1] and "tool_choice" not in standin.requests[-1]


@pytest.mark.compat(client="LangChain ChatOpenAI (Responses)", feature="tools round trip")
def test_langchain_chat_openai_on_the_responses_api(
    rh: RunningDaemon, upstream: tuple[openai.OpenAI, OpenAIStandin]
) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    def chat(url: str, model: str) -> ChatOpenAI:
        return ChatOpenAI(
            model=model, base_url=url + "/v1", api_key="not-needed", use_responses_api=True, max_retries=0
        )

    reply = chat(rh.url, CHAT_MODEL).invoke("What is the capital of France? One word.", max_tokens=20)
    assert "paris" in reply.text.lower()
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0

    client, standin = upstream
    standin.tool_calls = list(CALLS)
    model = chat(str(client.base_url).removesuffix("/v1/"), UPSTREAM_MODEL).bind_tools(TOOLS)
    question = HumanMessage("Weather and time in Paris?")
    called = model.invoke([question])
    assert [(c["id"], c["name"], c["args"]) for c in called.tool_calls] == EXPECTED
    streamed = None
    for piece in model.stream([question]):
        streamed = piece if streamed is None else streamed + piece
    assert streamed is not None and [(c["name"], c["args"]) for c in streamed.tool_calls] == [
        (name, arguments) for _, name, arguments in EXPECTED
    ]
    standin.tool_calls = []
    answers = [
        ToolMessage("18°C", tool_call_id=EXPECTED[0][0]),
        ToolMessage("9:00", tool_call_id=EXPECTED[1][0]),
    ]
    final = model.invoke([question, called, *answers])
    assert final.text == standin.reply
    assert [m["role"] for m in standin.requests[-1]["messages"]] == ["user", "assistant", "tool", "tool"]


def test_a_stream_cut_mid_function_call_fails_cleanly(upstream: tuple[openai.OpenAI, OpenAIStandin]) -> None:
    client, standin = upstream
    standin.tool_calls = list(CALLS)
    standin.cut_mid_tool_call = True
    events = strict(
        list(client.responses.create(model=UPSTREAM_MODEL, input="Weather?", tools=TOOLS, stream=True))
    )
    kinds = [e.type for e in events]
    assert "response.output_item.added" in kinds and kinds[-2:] == ["error", "response.failed"]
    assert "response.function_call_arguments.done" not in kinds and "response.output_item.done" not in kinds
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None and failed.output == []
    with client.responses.stream(model=UPSTREAM_MODEL, input="Weather?", tools=TOOLS) as stream:
        for _ in stream:
            pass
        with pytest.raises(RuntimeError):
            stream.get_final_response()


def test_bad_requests_get_openai_errors_naming_the_field(client: openai.OpenAI) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"model": CHAT_MODEL}, "input"),
        ({"model": CHAT_MODEL, "input": "hi", "temperature": 7}, "temperature"),
        ({"model": CHAT_MODEL, "input": "hi", "tools": [{"type": "local_shell"}]}, "tools.0.type"),
        ({"model": CHAT_MODEL, "input": [{"type": "computer_call_output", "call_id": "c"}]}, "input.0.type"),
        (
            {"model": CHAT_MODEL, "input": [{"role": "user", "content": [{"type": "input_file"}]}]},
            "input.0.content.0.type",
        ),
        (
            {"model": CHAT_MODEL, "input": "hi", "text": {"format": {"type": "json_schema"}}},
            "text.format.name",
        ),
        (
            {"model": CHAT_MODEL, "input": [{"type": "function_call_output", "output": "x"}]},
            "input.0.call_id",
        ),
    ]
    for body, field in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.post("/responses", cast_to=object, body=body)
        error = caught.value.body
        assert isinstance(error, dict) and error["param"] == field, (body, error)
        assert field in error["message"] and "Traceback" not in error["message"]
        assert error["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="no-such-model", input="hi")
    assert isinstance(missing.value.body, dict) and missing.value.body["code"] == "model_not_found"
