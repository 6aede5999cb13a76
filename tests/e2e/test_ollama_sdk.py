"""The official `ollama` SDK against a real daemon answering from the real embedded model."""

from __future__ import annotations

import httpx
import ollama
import pytest

from tests.conftest import RunningDaemon

CHAT_MODEL = "local/smollm2-135m"


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon()


@pytest.fixture
def client(rh: RunningDaemon) -> ollama.Client:
    return ollama.Client(host=rh.url)


def test_version_and_tags(client: ollama.Client, rh: RunningDaemon) -> None:
    version = httpx.get(rh.url + "/api/version").json()["version"]
    assert version.count(".") == 2
    names = [m.model for m in client.list().models]
    assert CHAT_MODEL in names and "auto" in names


@pytest.mark.compat(client="ollama (Python)", feature="stream")
def test_chat_streams_ndjson(client: ollama.Client, rh: RunningDaemon) -> None:
    parts = list(
        client.chat(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "What is the capital of France? One word."}],
            stream=True,
            options={"temperature": 0, "num_predict": 20},
        )
    )
    text = "".join(p.message.content or "" for p in parts)
    assert "paris" in text.lower()
    assert len(parts) > 2 and parts[-1].done and not parts[0].done
    assert parts[-1].eval_count and parts[-1].eval_count > 0
    rows = rh.rows()
    assert rows[-1]["dialect"] == "ollama" and rows[-1]["model_used"] == CHAT_MODEL


@pytest.mark.compat(client="ollama (Python)", feature="chat")
def test_chat_without_stream(client: ollama.Client) -> None:
    reply = client.chat(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        stream=False,
        options={"num_predict": 10},
    )
    assert reply.done and (reply.message.content or "").strip() != ""


@pytest.mark.compat(client="ollama (Python)", feature="generate")
def test_generate_streams(client: ollama.Client) -> None:
    parts = list(
        client.generate(model=CHAT_MODEL, prompt="Name a colour.", stream=True, options={"num_predict": 10})
    )
    assert "".join(p.response for p in parts).strip() != ""
    assert parts[-1].done and parts[-1].done_reason in ("stop", "length")


def test_load_only_and_unload_forms(client: ollama.Client) -> None:
    client.ps()  # reachable before anything is loaded
    loaded = client.generate(model=CHAT_MODEL)
    assert loaded.done and loaded.done_reason == "load"
    assert CHAT_MODEL in [m.model for m in client.ps().models]
    unloaded = client.generate(model=CHAT_MODEL, keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert CHAT_MODEL not in [m.model for m in client.ps().models]


def test_show(client: ollama.Client) -> None:
    shown = client.show(CHAT_MODEL)
    assert shown.details is not None and shown.details.quantization_level == "Q4_1"
    assert "completion" in (shown.capabilities or [])


@pytest.mark.compat(client="ollama (Python)", feature="embeddings")
def test_embed_and_legacy_embeddings(client: ollama.Client) -> None:
    batch = client.embed(model="local/all-minilm-l6-v2", input=["one", "two"])
    assert len(batch.embeddings) == 2 and len(batch.embeddings[0]) == 384
    single = client.embeddings(model="local/all-minilm-l6-v2", prompt="one")
    assert len(single.embedding) == 384
    assert abs(single.embedding[0] - batch.embeddings[0][0]) < 1e-4


@pytest.mark.compat(client="ollama (Python)", feature="errors")
def test_errors_in_ollama_shape(client: ollama.Client, rh: RunningDaemon) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="nope:latest", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404 and "nope:latest" in caught.value.error
    broken = httpx.post(
        rh.url + "/api/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]
    wrong_type = httpx.post(
        rh.url + "/api/generate", json={"model": CHAT_MODEL, "prompt": "x", "stream": "yes please"}
    )
    assert wrong_type.status_code == 400 and "stream" in wrong_type.json()["error"]
    missing = httpx.post(rh.url + "/api/embed", json={"input": "x"})
    assert missing.status_code == 400 and missing.json() == {"error": "missing required field 'model'"}
