"""The claim rules that keep similar-sounding statements apart, or find their disagreement."""

from __future__ import annotations

import pytest

from roundhouse.daemon.memory.claims import analyse, compare


def relation(old: str, new: str) -> tuple[bool, str | None]:
    result = compare(analyse(old), analyse(new))
    return result.same_subject, result.conflict


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "llama3.1:8b generates about 42 tokens per second.",
            "On this machine, llama3.1:8b produces roughly 42 tok/s.",
        ),
        (
            "Open WebUI spent $12.40 on cloud models last week.",
            "Last week, cloud spend from Open WebUI came to 12.40 USD.",
        ),
        (
            "qwen2.5:7b and gemma2:9b cannot be loaded together.",
            "There is not enough VRAM to keep qwen2.5:7b and gemma2:9b.",
        ),
        (
            "Moving Zed title_generation requests to llama3.2:3b saves $4.10 a month.",
            "Zed could save 4.10 dollars a month by sending title_generation requests to llama3.2:3b.",
        ),
    ],
)
def test_restatements_are_the_same_claim(old: str, new: str) -> None:
    assert relation(old, new) == (True, None)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("llama3.1:8b generates 42 tokens per second.", "qwen2.5:7b generates 42 tokens per second."),
        ("llama3.1:8b takes 3.1 s to load.", "llama3.1:8b generates 42 tok/s."),
        (
            "Alfred could save $4.00 a month on chat_summary.",
            "Obsidian could save $4.00 a month on chat_summary.",
        ),
        (
            "The cheapest model for Zed title_generation is qwen2.5:1.5b.",
            "The cheapest model for Zed tags_generation is qwen2.5:1.5b.",
        ),
    ],
)
def test_statements_about_different_things_are_kept_apart(old: str, new: str) -> None:
    same, _ = relation(old, new)
    assert not same


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("llama3.1:8b takes 3.1 s to load.", "Loading llama3.1:8b takes about 9.4 seconds.", "number"),
        (
            "gemma2:2b fits in GPU memory next to phi4:14b.",
            "gemma2:2b does not fit in GPU memory next to phi4:14b.",
            "negation",
        ),
        (
            "Cloud spend of Zed is increasing week over week.",
            "Zed cloud costs are falling from one week to the next.",
            "antonym",
        ),
        ("The user prefers short answers.", "The user prefers detailed answers.", "antonym"),
        (
            "The best model for Zed code_review is qwen2.5-coder:7b.",
            "The best model for Zed code_review is gpt-4o.",
            "choice",
        ),
    ],
)
def test_contradictions_are_found_and_named(old: str, new: str, kind: str) -> None:
    assert relation(old, new) == (True, kind)


def test_a_number_inside_a_model_name_is_not_a_quantity() -> None:
    claim = analyse("qwen2.5:14b answers 71% of the questions")
    assert claim.identifiers == {"qwen2.5:14b"}
    assert [(q.value, q.unit) for q in claim.quantities] == [(71.0, "%")]


def test_facts_about_the_user_have_one_subject() -> None:
    moved = compare(
        analyse("The user lives in Berlin."), analyse("The user moved to Munich."), one_subject=True
    )
    assert (moved.same_subject, moved.conflict) == (True, "choice")
    other = compare(
        analyse("The user lives in Berlin."), analyse("The user has a dog named Rex."), one_subject=True
    )
    assert not other.same_subject
    # About the apps of the machine, a second name is a second subject.
    apps = compare(analyse("Zed mostly uses local models."), analyse("Raycast mostly uses local models."))
    assert not apps.same_subject
