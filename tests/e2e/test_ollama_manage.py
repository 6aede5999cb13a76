"""Ollama's model management through Roundhouse, with the official `ollama` client: what the
client sees, and what reached the Ollama host."""

from __future__ import annotations

import httpx
import ollama
import pytest

from tests.conftest import RunningDaemon
from tests.standins.ollama_server import OllamaStandin


@pytest.fixture
def rh(start_daemon, ollama_standin: OllamaStandin) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon(ollama={"hosts": [ollama_standin.url], "discover_local": False})


@pytest.fixture
def client(rh: RunningDaemon) -> ollama.Client:
    return ollama.Client(host=rh.url)


def _names(client: ollama.Client) -> set[str]:
    return {m.model or "" for m in client.list().models}


@pytest.mark.compat(client="ollama (Python)", feature="pull")
def test_pull_streams_progress_and_lists_the_model(
    client: ollama.Client, ollama_standin: OllamaStandin
) -> None:
    parts = list(client.pull("qwen2.5:0.5b", stream=True))
    assert parts[0].status == "pulling manifest"
    downloads = [p for p in parts if p.digest]
    assert downloads and downloads[-1].completed == downloads[-1].total and downloads[-1].total
    assert parts[-1].status == "success"
    assert ollama_standin.bodies("/api/pull")[-1]["model"] == "qwen2.5:0.5b"
    assert "ollama/qwen2.5:0.5b" in _names(client)


def test_pull_without_streaming_answers_once(client: ollama.Client, rh: RunningDaemon) -> None:
    assert client.pull("phi3:mini", stream=False).status == "success"
    answer = httpx.post(rh.url + "/api/pull", json={"model": "phi3:mini", "stream": False})
    assert answer.status_code == 200 and answer.json() == {"status": "success"}
    assert "x-roundhouse-residency" in answer.headers


def test_pull_of_a_name_the_registry_lacks_is_a_404(
    client: ollama.Client, ollama_standin: OllamaStandin
) -> None:
    ollama_standin.pull_missing.add("nosuch:1b")
    with pytest.raises(ollama.ResponseError) as missing:
        client.pull("nosuch:1b")
    assert missing.value.status_code == 404 and "does not exist" in missing.value.error


@pytest.mark.compat(client="ollama (Python)", feature="copy/create/delete")
def test_copy_create_and_delete_reach_the_host(client: ollama.Client, ollama_standin: OllamaStandin) -> None:
    assert client.copy("llama3.1:8b", "mine:latest").status == "success"
    assert ollama_standin.bodies("/api/copy")[-1] == {"source": "llama3.1:8b", "destination": "mine:latest"}
    assert "ollama/mine:latest" in _names(client)

    created = list(client.create("tuned", from_="ollama/mine:latest", system="Be brief.", stream=True))
    assert created[-1].status == "success"
    sent = ollama_standin.bodies("/api/create")[-1]
    assert sent["model"] == "tuned" and sent["from"] == "mine:latest" and sent["system"] == "Be brief."
    assert "ollama/tuned:latest" in _names(client)

    assert client.delete("ollama/mine:latest").status == "success"
    assert ollama_standin.bodies("/api/delete")[-1] == {"model": "mine:latest"}
    assert "ollama/mine:latest" not in _names(client)
    with pytest.raises(ollama.ResponseError) as gone:
        client.delete("mine:latest")
    assert gone.value.status_code == 404


@pytest.mark.compat(client="ollama (Python)", feature="push")
def test_push_streams_the_hosts_progress(client: ollama.Client, ollama_standin: OllamaStandin) -> None:
    parts = list(client.push("llama3.1:8b", stream=True))
    assert parts[0].status == "retrieving manifest" and parts[-1].status == "success"
    assert ollama_standin.bodies("/api/push")[-1]["model"] == "llama3.1:8b"


def test_models_only_roundhouse_knows_are_refused(
    client: ollama.Client, ollama_standin: OllamaStandin
) -> None:
    with pytest.raises(ollama.ResponseError) as embedded:
        client.delete("local/smollm2-135m")
    assert embedded.value.status_code == 400 and "cannot be deleted through Ollama" in embedded.value.error
    with pytest.raises(ollama.ResponseError) as cloud:
        client.delete("openai/gpt-4o")
    assert cloud.value.status_code == 400
    assert cloud.value.error == "'openai/gpt-4o' is a cloud model; it cannot be deleted through Ollama"
    with pytest.raises(ollama.ResponseError) as virtual:
        client.copy("auto", "x")
    assert virtual.value.status_code == 400
    assert not ollama_standin.bodies("/api/delete") and not ollama_standin.bodies("/api/copy")


def test_without_an_ollama_host_management_says_so(start_daemon) -> None:  # type: ignore[no-untyped-def]
    rh = start_daemon()
    with pytest.raises(ollama.ResponseError) as none:
        ollama.Client(host=rh.url).pull("llama3.2")
    assert none.value.status_code == 503 and "no Ollama backend is configured" in none.value.error


def test_older_clients_name_field_and_missing_fields(
    rh: RunningDaemon, ollama_standin: OllamaStandin
) -> None:
    deleted = httpx.request("DELETE", rh.url + "/api/delete", json={"name": "llama3.1:8b"})
    assert deleted.status_code == 200
    assert ollama_standin.bodies("/api/delete")[-1] == {"model": "llama3.1:8b"}
    missing = httpx.post(rh.url + "/api/copy", json={"source": "llama3.1:8b"})
    assert missing.status_code in (400, 422) and "destination" in missing.json()["error"]
