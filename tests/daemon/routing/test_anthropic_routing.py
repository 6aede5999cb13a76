"""Messages requests take the same way as chat completions: a private prompt sent to a Claude
model stays local, wherever in the request the private data is (a tool result that read a
`.env` file, the system prompt), streamed or not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.daemon.routing.test_e2e_routing import HARD, SECRETS, model_of, start
from tests.standins.openai_server import OpenAIStandin

CLAUDE = "claude-sonnet-4-5"


@pytest.fixture(autouse=True)
def _examples_embedded_once(shipped_index: object) -> None:
    """Daemons in this process reuse the shipped examples' vectors instead of re-encoding."""


def messages(rh: RunningDaemon, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        rh.url + "/v1/messages",
        json={"model": CLAUDE, "max_tokens": 4, "temperature": 0, **body},
        headers={"anthropic-version": "2023-06-01"},
        timeout=120,
    )


def test_private_messages_to_a_claude_model_stay_local(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    openai_standin.models.append(CLAUDE)
    rh = start(start_daemon, openai_standin)
    control = messages(rh, {"messages": [{"role": "user", "content": HARD}]})
    assert model_of(control) == f"cloudy/{CLAUDE}"
    assert control.json()["content"][0]["text"] == openai_standin.reply
    assert len(openai_standin.requests) == 1

    values = list(SECRETS.values())
    bodies: list[dict[str, Any]] = [
        {"messages": [{"role": "user", "content": f"{HARD}\nUse these details: {values[0]}"}]},
        {"system": f"The user's address is {values[1]}.", "messages": [{"role": "user", "content": HARD}]},
        {
            "messages": [
                {"role": "user", "content": "Read my config"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"p": ".env"}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": f"DB={values[3]}"},
                        {"type": "text", "text": HARD},
                    ],
                },
            ]
        },
    ]
    for stream in (False, True):
        for body in bodies:
            response = messages(rh, {**body, "stream": stream})
            assert model_of(response) == "local/smollm2-135m", (stream, body)
            assert "privacy" in response.headers["x-roundhouse-route-reasons"]
            if stream:
                assert "event: message_stop" in response.text
            else:
                assert response.json()["type"] == "message"
    assert len(openai_standin.requests) == 1
    seen = openai_standin.all_text()
    for value in values:
        assert value not in seen
