"""LangChain's ChatAnthropic, ChatOllama and ChatOpenAI against a real daemon: chat and streams from
the real embedded model, structured output through its grammar, tool calls through an
OpenAI-compatible upstream (the small local model does not call tools)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from tests.conftest import RunningDaemon
from tests.standins.openai_server import OpenAIStandin

CHAT_MODEL = "local/smollm2-135m"
UPSTREAM_MODEL = "upstream/gpt-4o"
QUESTION = "What is the capital of France? Answer in one word."


class City(BaseModel):
    name: str = Field(max_length=20)
    population: int


def get_weather(city: str) -> str:
    """The weather in a city."""
    return "18°C"


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin) -> RunningDaemon:
    return start_daemon(openai_compat=[{"name": "upstream", "base_url": openai_standin.url, "local": True}])


def anthropic_chat(rh: RunningDaemon, model: str = CHAT_MODEL) -> ChatAnthropic:
    return ChatAnthropic(  # type: ignore[call-arg]
        model=model, base_url=rh.url, api_key="not-needed", max_tokens=20, temperature=0, max_retries=0
    )


def ollama_chat(rh: RunningDaemon, model: str = CHAT_MODEL) -> ChatOllama:
    return ChatOllama(model=model, base_url=rh.url, num_predict=20, temperature=0)


def openai_chat(rh: RunningDaemon, model: str = CHAT_MODEL) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=rh.url + "/v1",
        api_key="not-needed",
        max_tokens=20,
        temperature=0,
        max_retries=0,
    )


def streamed(model: Any, messages: list[BaseMessage] | str) -> tuple[AIMessage, int]:
    whole = None
    pieces = 0
    for piece in model.stream(messages):
        pieces += 1 if piece.text else 0
        whole = piece if whole is None else whole + piece
    assert whole is not None
    return whole, pieces


def tool_round_trip(model: Any, standin: OpenAIStandin) -> None:
    bound = model.bind_tools([get_weather])
    question = HumanMessage("What is the weather in Paris?")
    standin.tool_calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    called = bound.invoke([question])
    assert [(c["name"], c["args"]) for c in called.tool_calls] == [("get_weather", {"city": "Paris"})]
    standin.tool_calls = []
    answer = bound.invoke([question, called, ToolMessage("18°C", tool_call_id=called.tool_calls[0]["id"])])
    assert answer.text == standin.reply
    sent = standin.requests[-1]["messages"]
    assert [m["role"] for m in sent][-3:] == ["user", "assistant", "tool"]
    assert "18°C" in str(sent[-1]["content"])


@pytest.mark.compat(client="LangChain ChatAnthropic", feature="chat")
def test_chat_anthropic_answers(rh: RunningDaemon) -> None:
    reply = anthropic_chat(rh).invoke(QUESTION)
    assert "paris" in reply.text.lower()
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0


@pytest.mark.compat(client="LangChain ChatAnthropic", feature="stream")
def test_chat_anthropic_streams(rh: RunningDaemon) -> None:
    whole, pieces = streamed(anthropic_chat(rh), "Count from one to five.")
    assert whole.text.strip() and pieces > 1


@pytest.mark.compat(client="LangChain ChatAnthropic", feature="tools round trip")
def test_chat_anthropic_tool_round_trip(rh: RunningDaemon, openai_standin: OpenAIStandin) -> None:
    tool_round_trip(anthropic_chat(rh, UPSTREAM_MODEL), openai_standin)


@pytest.mark.compat(client="LangChain ChatOllama", feature="chat")
def test_chat_ollama_answers(rh: RunningDaemon) -> None:
    reply = ollama_chat(rh).invoke(QUESTION)
    assert "paris" in reply.text.lower()
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0


@pytest.mark.compat(client="LangChain ChatOllama", feature="stream")
def test_chat_ollama_streams(rh: RunningDaemon) -> None:
    whole, pieces = streamed(ollama_chat(rh), "Count from one to five.")
    assert whole.text.strip() and pieces > 1


@pytest.mark.compat(client="LangChain ChatOllama", feature="json_schema")
def test_chat_ollama_structured_output(rh: RunningDaemon) -> None:
    model = ChatOllama(model=CHAT_MODEL, base_url=rh.url, num_predict=48, temperature=0)
    city = model.with_structured_output(City, method="json_schema").invoke("Name a city and its population.")
    assert isinstance(city, City) and city.name


@pytest.mark.compat(client="LangChain ChatOllama", feature="tools round trip")
def test_chat_ollama_tool_round_trip(rh: RunningDaemon, openai_standin: OpenAIStandin) -> None:
    tool_round_trip(ollama_chat(rh, UPSTREAM_MODEL), openai_standin)


@pytest.mark.compat(client="LangChain ChatOpenAI", feature="chat")
def test_chat_openai_answers(rh: RunningDaemon) -> None:
    reply = openai_chat(rh).invoke(QUESTION)
    assert "paris" in reply.text.lower()


@pytest.mark.compat(client="LangChain ChatOpenAI", feature="stream")
def test_chat_openai_streams(rh: RunningDaemon) -> None:
    whole, pieces = streamed(openai_chat(rh), "Count from one to five.")
    assert whole.text.strip() and pieces > 1


@pytest.mark.compat(client="LangChain ChatOpenAI", feature="json_schema")
def test_chat_openai_structured_output(rh: RunningDaemon) -> None:
    model = ChatOpenAI(
        model=CHAT_MODEL, base_url=rh.url + "/v1", api_key="not-needed", max_tokens=48, temperature=0
    )
    city = model.with_structured_output(City, method="json_schema").invoke("Name a city and its population.")
    assert isinstance(city, City) and city.name


@pytest.mark.compat(client="LangChain ChatOpenAI", feature="tools round trip")
def test_chat_openai_tool_round_trip(rh: RunningDaemon, openai_standin: OpenAIStandin) -> None:
    tool_round_trip(openai_chat(rh, UPSTREAM_MODEL), openai_standin)
