"""Memory for clients that have none: the chosen apps get a few relevant approved memories."""

from __future__ import annotations

from pathlib import Path

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.memory.inject import HEADER, compose, inject
from roundhouse.daemon.memory.records import Insight
from roundhouse.daemon.models import ChatRequest
from roundhouse.daemon.secrets import Secrets
from tests.daemon.memory.daemon_helpers import running_daemon


def test_the_note_keeps_whole_lines_within_the_budget() -> None:
    texts = ["a" * 100, "b" * 300, "c" * 50]
    note = compose(texts, max_chars=len(HEADER) + 160)
    assert len(note) <= len(HEADER) + 160
    assert "a" * 100 in note and "c" * 50 in note and "b" * 300 not in note
    assert compose(["x" * 500], max_chars=100) == ""


async def test_chosen_apps_get_relevant_memories_and_others_do_not(
    rh_home: Path, embedder: Embedder, test_secrets: Secrets
) -> None:
    async with running_daemon(rh_home, embedder, test_secrets) as daemon:
        memory = daemon.memory  # type: ignore[attr-defined]
        memory.settings.inject.apps = ["editor"]
        memory.settings.inject.max_chars = 300
        decisions = await memory.submit(
            [
                Insight(
                    text="The user's project uses pytest with asyncio_mode set to auto.",
                    agent="t",
                    kind="user",
                ),
                Insight(text="Cloud spend of Obsidian is decreasing week over week.", agent="t"),
                Insight(
                    text="The user's project is formatted with ruff at a line length of 110.",
                    agent="t",
                    kind="user",
                ),
            ]
        )
        for decision in decisions[:2]:
            await memory.service.approve(decision["memory_id"])
        # decisions[2] stays pending: not reviewed, so never injected.

        question = "How do I write an async pytest test for this project?"
        request = ChatRequest(model="local", messages=[{"role": "user", "content": question}], app="editor")
        await inject(daemon, request)
        system = request.messages[0]
        assert system["role"] == "system"
        assert "pytest with asyncio_mode set to auto" in system["content"]
        assert "Obsidian" not in system["content"]  # not relevant to the question
        assert "ruff" not in system["content"]  # pending review
        assert len(system["content"]) <= 300 + 40
        assert request.messages[1]["content"] == question

        await inject(daemon, request)  # twice changes nothing
        assert sum("asyncio_mode" in str(m["content"]) for m in request.messages) == 1

        other = ChatRequest(model="local", messages=[{"role": "user", "content": question}], app="open-webui")
        await inject(daemon, other)
        assert other.messages == [{"role": "user", "content": question}]
