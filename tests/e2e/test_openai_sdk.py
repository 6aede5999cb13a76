"""The official `openai` SDK against a real daemon answering from the real embedded model."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest

from tests.conftest import RunningDaemon

CHAT_MODEL = "local/smollm2-135m"


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon()


@pytest.fixture
def client(rh: RunningDaemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=rh.url + "/v1", api_key="not-needed-on-loopback", max_retries=0)


@pytest.mark.compat(client="openai (Python)", feature="models")
def test_models_lists_embedded_and_virtual_models(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert CHAT_MODEL in ids
    assert "local/all-minilm-l6-v2" in ids
    assert {"auto", "local", "private", "cloud"} <= set(ids)


@pytest.mark.compat(client="openai (Python)", feature="chat")
def test_chat_answers_from_the_real_model(client: openai.OpenAI, rh: RunningDaemon) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        max_tokens=20,
        temperature=0,
    )
    reply = raw.parse()
    assert "paris" in (reply.choices[0].message.content or "").lower()
    assert reply.usage is not None and reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 0
    assert raw.headers["x-roundhouse-route-model"] == CHAT_MODEL
    request_id = raw.headers["x-roundhouse-request-id"]
    row = rh.rows("SELECT * FROM requests WHERE id = ?", [request_id])[0]
    assert row["model_used"] == CHAT_MODEL and row["backend"] == "embedded" and row["status"] == 200
    assert row["tokens_out"] == reply.usage.completion_tokens and row["dialect"] == "openai"
    assert row["ttft_ms"] is not None and row["latency_ms"] >= row["ttft_ms"]


@pytest.mark.compat(client="openai (Python)", feature="stream")
def test_chat_streams_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Count from one to five."}],
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.strip()) > 0
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1, "the answer must arrive in several chunks, not at once"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


@pytest.mark.compat(client="openai (Python)", feature="completions")
def test_text_completion_with_suffix(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model=CHAT_MODEL,
        prompt="def add(a, b):\n    return",
        suffix="\n\nprint(add(1, 2))",
        max_tokens=8,
        temperature=0,
    )
    assert reply.object == "text_completion"
    assert reply.choices[0].text.strip() != ""
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_text_completion_streams(client: openai.OpenAI) -> None:
    parts = [
        c.choices[0].text
        for c in client.completions.create(
            model=CHAT_MODEL, prompt="Once upon a time", max_tokens=10, stream=True
        )
    ]
    assert "".join(parts).strip() != ""


@pytest.mark.compat(client="openai (Python)", feature="embeddings")
def test_embeddings_are_real_sentence_vectors(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(
        model="local/all-minilm-l6-v2",
        input=["A cat sits on the mat.", "A kitten is sitting on a rug.", "Quarterly tax filing deadline"],
    )
    vectors = np.array([d.embedding for d in reply.data])
    assert vectors.shape == (3, 384)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2


def test_embeddings_base64(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="local/all-minilm-l6-v2", input="hello", encoding_format="base64"
    )
    data = raw.http_response.json()["data"][0]["embedding"]
    assert np.frombuffer(base64.b64decode(data), dtype="<f4").shape == (384,)


def test_unknown_model_is_a_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    body = caught.value.body
    assert isinstance(body, dict) and "no-such-model" in body["message"]
    assert body["code"] == "model_not_found"


@pytest.mark.compat(client="openai (Python)", feature="errors")
def test_bad_requests_get_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=[])
    assert "messages" in str(caught.value)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}], temperature=7
        )
    assert "temperature" in str(caught.value)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=CHAT_MODEL, input="chat models make no embeddings")
