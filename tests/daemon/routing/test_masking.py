"""Masking mode: a private prompt may go to the cloud with its private values replaced by
placeholders, and the client gets the answer with the values back, in either dialect, streamed
or not, even when a placeholder is cut across two chunks of the cloud's stream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roundhouse.daemon.routing.masking import Masker, Restorer
from roundhouse.daemon.routing.privacy import PrivacyDetector
from tests.conftest import RunningDaemon
from tests.daemon.routing.test_e2e_routing import CLOUD_MODEL, answer_of, chat, start
from tests.standins.openai_server import OpenAIStandin

EMAIL = "maria.garcia84@gmail.com"
KEY = "sk-proj-Xq3vB8nR2kLm9PzT4wY7cJ5hG1dF6sA0eU8iO2"
PASSWORD = "Tr0ub4dor&3"
PROMPT = (
    f"Write to {EMAIL} that the new key is {KEY} and that the database moved to "
    f"redis://:{PASSWORD}@cache.internal:6379/0, in two sentences."
)
# What a cloud model answers to the masked prompt, placeholders and all.
REPLY = "Dear [EMAIL_1], your key [SECRET_1] works; the cache password [SECRET_2] changed."
RESTORED = f"Dear {EMAIL}, your key {KEY} works; the cache password {PASSWORD} changed."


@pytest.fixture(autouse=True)
def _examples_embedded_once(shipped_index: object) -> None:
    """Daemons in this process reuse the shipped examples' vectors instead of re-encoding."""


def test_a_placeholder_cut_anywhere_by_the_stream_is_restored_whole() -> None:
    masker = Masker(PrivacyDetector())
    masked = masker.mask(PROMPT)
    assert EMAIL not in masked and KEY not in masked and PASSWORD not in masked
    assert "[EMAIL_1]" in masked and "[SECRET_1]" in masked and "[SECRET_2]" in masked
    for cut in range(len(REPLY) + 1):
        for second in (cut, min(len(REPLY), cut + 3)):
            restorer = Restorer(masker.values)
            pieces = [REPLY[:cut], REPLY[cut:second], REPLY[second:]]
            out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
            assert out == RESTORED, (cut, second)


def test_text_that_only_looks_like_a_placeholder_is_passed_on() -> None:
    restorer = Restorer({"[EMAIL_1]": EMAIL})
    out = restorer.feed("see [EMAIL_") + restorer.feed("2] and [note] and [EMAIL_1]") + restorer.flush()
    assert out == f"see [EMAIL_2] and [note] and {EMAIL}"


def start_masking(start_daemon: Callable[..., RunningDaemon], cloud: OpenAIStandin) -> RunningDaemon:
    return start(start_daemon, cloud, routing={"privacy": {"mode": "mask"}})


@pytest.mark.parametrize("dialect", ["openai", "ollama"])
@pytest.mark.parametrize("stream", [False, True])
def test_the_cloud_gets_placeholders_and_the_client_the_values(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin, dialect: str, stream: bool
) -> None:
    openai_standin.reply = REPLY
    openai_standin.chunk_chars = 4  # every placeholder is cut across chunks
    rh = start_masking(start_daemon, openai_standin)
    response = chat(rh, dialect, "cloud", PROMPT, stream)
    assert response.status_code == 200, response.text
    assert response.headers["x-roundhouse-route-model"] == CLOUD_MODEL
    _models, text = answer_of(response, stream)
    assert text == RESTORED
    seen = openai_standin.all_text()
    assert len(openai_standin.requests) == 1
    for value in (EMAIL, KEY, PASSWORD):
        assert value not in seen
    assert "[EMAIL_1]" in seen and "[SECRET_1]" in seen and "[SECRET_2]" in seen
    # The ledger says what was masked, by kind; no value is kept anywhere in its row.
    (row,) = rh.rows()
    assert "masked for the cloud: EMAIL, SECRET" in row["route_json"]
    assert not any(value in str(row) for value in (EMAIL, KEY, PASSWORD))


def test_without_the_mask_policy_the_same_prompt_stays_local(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    rh = start(start_daemon, openai_standin)
    response = chat(rh, "openai", "auto", PROMPT, False)
    assert response.status_code == 200, response.text
    assert response.headers["x-roundhouse-route-model"] != CLOUD_MODEL
    assert openai_standin.requests == []


def test_a_private_key_is_never_masked_out_to_the_cloud(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    """The detector finds a key block by its header, so masking could not hide all of it."""
    rh = start_masking(start_daemon, openai_standin)
    prompt = "Is this key valid?\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU"
    response = chat(rh, "openai", "auto", prompt, False)
    assert response.status_code == 200, response.text
    assert response.headers["x-roundhouse-route-model"] != CLOUD_MODEL
    assert openai_standin.requests == []
