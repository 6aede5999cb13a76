"""The image trainer on a real daemon: the embedded model writes prompt variants, a ComfyUI
stand-in draws them, the user's ratings go through the control API, and what the trainer
learns reaches the memory curator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from roundhouse.daemon.agents.builtin.image_trainer import Variant, fallback_variants, parse_variants
from roundhouse.daemon.agents.context import app_name
from roundhouse.daemon.images.dataset import ImageRecord
from tests.conftest import RunningDaemon
from tests.standins.comfyui_server import ComfyUIStandin
from tests.standins.openai_server import OpenAIStandin
from tests.standins.runner import free_port

AGENT = "image_trainer"
SIZE = "512x512"
WATCH_NEGATIVE = "cluttered background, text, watermark"


@pytest.fixture
def comfy() -> Iterator[ComfyUIStandin]:
    with ComfyUIStandin() as standin:
        yield standin


def start(
    start_daemon: Callable[..., RunningDaemon], comfyui_url: str, cloud_url: str, **options: Any
) -> RunningDaemon:
    return start_daemon(
        residency={"enabled": False},
        routing={"knn": False},
        openai_compat=[{"name": "cloudy", "base_url": cloud_url, "local": False}],
        images={"comfyui_url": comfyui_url, "discover_local": False},
        # Runs here are started through the API; the idle-time schedule stays out of the way.
        agents={
            "start_delay_s": 3600,
            "agents": {AGENT: {"options": {"prompts": 3, "variants": 2, "max_tokens": 160, **options}}},
        },
    )


def draw(client: httpx.Client, prompt: str, **fields: Any) -> list[str]:
    """A user's image request; returns the ids of the images drawn."""
    reply = client.post(
        "/v1/images/generations", json={"prompt": prompt, "size": SIZE, "response_format": "url", **fields}
    )
    assert reply.status_code == 200, reply.text
    return [item["url"].rsplit("/", 1)[-1] for item in reply.json()["data"]]


def run_agent(client: httpx.Client) -> dict[str, Any]:
    run = client.post(f"/control/v1/agents/{AGENT}/run")
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "ok", run.json()["error"]
    return dict(run.json())


def dataset(client: httpx.Client) -> list[dict[str, Any]]:
    return list(client.get("/control/v1/images/recent", params={"limit": 500}).json()["images"])


def texts_sent(comfy: ComfyUIStandin) -> list[str]:
    return [
        node["inputs"]["text"]
        for workflow in comfy.prompts
        for node in workflow.values()
        if node["class_type"] == "CLIPTextEncode"
    ]


def test_a_run_draws_variants_here_and_spends_nothing(
    start_daemon: Callable[..., RunningDaemon], comfy: ComfyUIStandin, openai_standin: OpenAIStandin
) -> None:
    running = start(start_daemon, comfy.url, openai_standin.url)
    with httpx.Client(base_url=running.url, timeout=300) as client:
        watch = draw(client, "product shot of a silver wristwatch on a white background", seed=11)
        lighthouse = draw(client, "a lighthouse at dusk, oil painting", seed=12)
        drawn_by_user = len(comfy.prompts)

        run = run_agent(client)

        rendered = run["data"]["rendered"]
        assert len(rendered) == 4, run
        assert {r["variant_of"] for r in rendered} == {*watch, *lighthouse}
        assert {r["made_by"] for r in rendered} <= {"model", "fallback"}
        assert "variants rendered" in run["summary"]
        # The stand-in drew every variant, each with its original's seed.
        assert len(comfy.prompts) == drawn_by_user + 4
        sent = texts_sent(comfy)
        assert all(r["prompt"] in sent for r in rendered)
        seeds = [
            n["inputs"]["seed"] for w in comfy.prompts for n in w.values() if n["class_type"] == "KSampler"
        ]
        assert sorted(seeds[drawn_by_user:]) == [11, 11, 12, 12]

        rows = {row["id"]: row for row in dataset(client)}
        variants = [row for row in rows.values() if row["source"] == "trainer"]
        assert len(variants) == 4 and all(row["variant_of"] in rows for row in variants)
        assert all(rows[row["variant_of"]]["source"] == "request" for row in variants)

        ledger = running.rows("SELECT * FROM requests WHERE app = ?", [app_name(AGENT)])
        assert sum(row["endpoint"] == "images" for row in ledger) == 4
        assert all(row["backend"] == "comfyui" for row in ledger if row["endpoint"] == "images")
        assert sum(row["cost_usd"] or 0 for row in ledger) == 0
        assert run["cost_usd"] == 0
        assert openai_standin.requests == []

        assert run["insights"] == 0
        assert client.get("/control/v1/memory/insights", params={"agent": AGENT}).json()["insights"] == []

        # A second run has nothing new to draw: each request has its variants already.
        again = run_agent(client)
        assert again["data"]["rendered"] == [] and len(comfy.prompts) == drawn_by_user + 4


def test_ratings_teach_it_which_setting_scores_best(
    start_daemon: Callable[..., RunningDaemon], comfy: ComfyUIStandin, openai_standin: OpenAIStandin
) -> None:
    running = start(start_daemon, comfy.url, openai_standin.url, min_ratings=3)
    with httpx.Client(base_url=running.url, timeout=300) as client:
        best = draw(
            client,
            "product shot of a silver wristwatch on a white background",
            n=3,
            steps=30,
            negative_prompt=WATCH_NEGATIVE,
            seed=21,
        )
        plain = draw(client, "product shot of a gold wristwatch on a white background", n=3, seed=22)
        lighthouse = draw(client, "a lighthouse at dusk, oil painting", seed=23)
        first = run_agent(client)
        assert first["insights"] == 0

        for row in dataset(client):
            root = row["variant_of"] or row["id"]
            if root in lighthouse:
                score = 3.0
            elif row["steps"] == 30 and row["negative_prompt"] == WATCH_NEGATIVE:
                score = 5.0
            else:
                score = 2.0
            rated = client.post(f"/control/v1/images/{row['id']}/rating", json={"score": score})
            assert rated.status_code == 200, rated.text
        assert len(best) == 3 and len(plain) == 3

        second = run_agent(client)

        assert second["insights"] == 1, second
        [learned] = second["data"]["insights"]
        assert learned["winner"]["setting"] == [30, WATCH_NEGATIVE]
        assert learned["winner"]["ratings"] >= 3 and learned["winner"]["mean"] == 5.0
        assert set(best) | set(plain) <= set(learned["image_ids"])
        assert not set(lighthouse) & set(learned["image_ids"])

        [insight] = client.get("/control/v1/memory/insights", params={"agent": AGENT}).json()["insights"]
        assert "wristwatch" in insight["text"] and "30 steps" in insight["text"]
        assert WATCH_NEGATIVE in insight["text"] and "images" in insight["tags"]
        decisions = client.get("/control/v1/memory/decisions", params={"insight_id": insight["id"]}).json()
        assert decisions["decisions"], "the curator did not decide on the insight"


def test_without_comfyui_a_run_does_nothing_and_says_why(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    running = start(start_daemon, nowhere, openai_standin.url)
    with httpx.Client(base_url=running.url, timeout=300) as client:
        run = run_agent(client)
        assert "ComfyUI is not reachable" in run["summary"]
        assert run["data"]["skipped"] == "comfyui unreachable"
        assert run["insights"] == 0 and run["request_ids"] == []
        assert running.rows("SELECT * FROM requests WHERE app = ?", [app_name(AGENT)]) == []
        assert dataset(client) == []


def test_a_cloud_model_writes_variants_within_the_cloud_cap(
    start_daemon: Callable[..., RunningDaemon], comfy: ComfyUIStandin, openai_standin: OpenAIStandin
) -> None:
    written = [
        {"prompt": "studio photo, softbox lighting, sharp focus", "negative_prompt": "dust", "steps": 35},
        {"prompt": "studio photo, golden hour light", "negative_prompt": "glare, noise", "steps": 25},
    ]
    openai_standin.reply = "Here you go:\n" + json.dumps(written)
    running = start_daemon(
        residency={"enabled": False},
        routing={"knn": False},
        openai_compat=[{"name": "cloudy", "base_url": openai_standin.url, "local": False}],
        # Priced so that one answer spends the trainer's whole cap.
        spend={"prices": {"cloudy/gpt-4o-mini": {"input_per_mtok": 2000, "output_per_mtok": 8000}}},
        images={"comfyui_url": comfy.url, "discover_local": False},
        agents={
            "start_delay_s": 3600,
            "agents": {
                AGENT: {
                    "cloud_cap_usd": 0.01,
                    "options": {"text_model": "cloudy/gpt-4o-mini", "variants": 2, "max_tokens": 160},
                }
            },
        },
    )
    with httpx.Client(base_url=running.url, timeout=300) as client:
        draw(client, "product shot of a silver wristwatch on a white background", seed=31)
        lighthouse = draw(client, "a lighthouse at dusk, oil painting", seed=32)

        run = run_agent(client)

        first, second = run["data"]["asks"]
        assert first["variant_of"] in lighthouse  # the newest request is asked about first
        assert first["answered_by"] == "cloudy/gpt-4o-mini" and first["usable"] == 2
        assert second.get("cloud_cap_reached") and second["local"] is True
        assert "cloud cap is spent" in run["summary"]
        chats = [r for r in openai_standin.requests if "messages" in r]
        assert len(chats) == 1, "the trainer went on asking the cloud past its cap"

        from_model = [r for r in run["data"]["rendered"] if r["made_by"] == "model"]
        assert [(r["prompt"], r["negative_prompt"], r["steps"]) for r in from_model[:2]] == [
            (w["prompt"], w["negative_prompt"], w["steps"]) for w in written
        ]
        assert all(w["prompt"] in texts_sent(comfy) for w in written)
        assert len(run["data"]["rendered"]) == 4

        ledger = running.rows("SELECT * FROM requests WHERE app = ?", [app_name(AGENT)])
        cloud = [row for row in ledger if row["cost_usd"]]
        assert len(cloud) == 1 and cloud[0]["endpoint"] != "images"
        assert run["cost_usd"] == cloud[0]["cost_usd"]
        assert all(row["backend"] == "comfyui" for row in ledger if row["endpoint"] == "images")


def test_the_text_models_answer_is_read_defensively() -> None:
    original = ImageRecord(
        id="img-1",
        ts=0.0,
        source="request",
        file="img-1.png",
        prompt="a red fox",
        negative_prompt="blurry",
        steps=20,
    )
    answer = (
        'Sure! [{"prompt": "a red fox in snow", "steps": "30"}, {"prompt": ""}, "fox", '
        '{"prompt": "a red fox", "negative_prompt": "blurry", "steps": 20}, '
        '{"prompt": "a red fox at night", "negative_prompt": 7, "steps": 999}]'
    )
    assert parse_variants(answer, original, 5) == [
        Variant("a red fox in snow", "blurry", 30, "model"),
        Variant("a red fox at night", "blurry", 20, "model"),
    ]
    assert parse_variants("1. A fox 2. Another fox", original, 2) == []
    assert parse_variants('[{"prompt": "unfinished', original, 2) == []
    assert fallback_variants(original, "blurry", 3) == [
        Variant("a red fox", "blurry", 30, "fallback"),
        Variant("a red fox", "", 20, "fallback"),
        Variant("a red fox", "blurry", 40, "fallback"),
    ]
