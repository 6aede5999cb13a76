"""Structured outputs from the embedded model: a schema or JSON mode becomes a grammar, so even
SmolLM2 answers with JSON that validates."""

from __future__ import annotations

import json

import jsonschema
import ollama
import openai
import pytest
from pydantic import BaseModel, Field

from tests.conftest import RunningDaemon

CHAT_MODEL = "local/smollm2-135m"


class City(BaseModel):
    name: str = Field(max_length=20)
    population: int


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon()


@pytest.fixture
def client(rh: RunningDaemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=rh.url + "/v1", api_key="not-needed-on-loopback", max_retries=0)


@pytest.mark.compat(client="openai (Python)", feature="json_schema")
def test_openai_parse_returns_a_parsed_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Name a city and its population."}],
        response_format=City,
        max_tokens=48,
        temperature=0,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, City) and parsed.name


def test_unusable_schema_is_refused_naming_the_field(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"$ref": "#/nope"}},
            },
            max_tokens=8,
        )
    assert "response_format" in str(refused.value) and "Traceback" not in str(refused.value)


@pytest.mark.compat(client="ollama (Python)", feature="json_schema")
def test_ollama_format_schema_answers_json_that_validates(rh: RunningDaemon) -> None:
    schema = City.model_json_schema()
    reply = ollama.Client(host=rh.url).chat(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Name a city and its population."}],
        format=schema,
        options={"num_predict": 48, "temperature": 0},
    )
    jsonschema.validate(json.loads(reply.message.content or ""), schema)
