"""The four built-in agents on a real daemon: the embedded model, the real router and ledger,
and a stand-in cloud."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from roundhouse.daemon.agents.builtin import costs, performance, privacy, prompts
from roundhouse.daemon.agents.builtin.evaluation import Question, is_correct, load_questions
from roundhouse.daemon.agents.builtin.performance import latest_performance
from roundhouse.daemon.agents.builtin.prompts import observe, shorten
from roundhouse.daemon.agents.scheduler import AgentScheduler
from roundhouse.daemon.agents.settings import AgentConfig, AgentsSettings
from roundhouse.daemon.app import Daemon
from roundhouse.daemon.models import ChatRequest
from tests.standins.openai_server import OpenAIStandin

DAY = 86400.0


def runner(daemon: Daemon, agent: Any, **options: Any) -> AgentScheduler:
    settings = AgentsSettings(agents={agent.name: AgentConfig(options=options, cloud_cap_usd=1.0)})
    return AgentScheduler(daemon, settings, {agent.name: agent})


def test_the_evaluation_has_fifty_checkable_questions() -> None:
    questions = load_questions()
    assert len(questions) == 50 and len({q.id for q in questions}) == 50
    capital = Question("x", "What is the capital of France?", ("paris",))
    assert is_correct("Paris.", capital) and is_correct("The capital is paris", capital)
    assert not is_correct("Lyon\nParis", capital)
    twelve = Question("y", "7 + 5?", ("12",))
    assert is_correct("12", twelve) and not is_correct("120", twelve) and not is_correct("1.2", twelve)


async def test_performance_analyst_measures_local_models(daemon: Daemon) -> None:
    run = await runner(daemon, performance.create(daemon), questions=3).run("performance")
    assert run["status"] == "ok", run["error"]
    figures = latest_performance(daemon.store)["local/smollm2-135m"]
    assert figures["load_s"] > 0 and figures["tokens_per_s"] > 0 and figures["ttft_ms"] > 0
    assert figures["questions"] == 3 and 0 <= figures["quality"] <= 1
    # Speed, first token, load time, quality: four findings, each with its evidence.
    assert run["insights"] == 4
    insights = daemon.memory.service.book.insights(agent="performance")  # type: ignore[attr-defined]
    assert all(i["evidence"]["measurement"]["questions"] == 3 for i in insights)
    assert any("tokens per second" in i["text"] and i["request_ids"] for i in insights)
    assert len(run["request_ids"]) == 1 + 3  # the speed probe and three questions, all recorded


async def test_privacy_tester_finds_no_leak_with_the_real_router(
    daemon: Daemon, openai_standin: OpenAIStandin
) -> None:
    run = await runner(daemon, privacy.create(daemon)).run("privacy")
    assert run["status"] == "ok" and run["data"]["leaks"] == []
    assert run["data"]["checked"] >= 9 * 3
    assert openai_standin.requests == []  # dry run: nothing was sent anywhere


async def test_privacy_tester_reports_a_leak_and_alerts(daemon: Daemon) -> None:
    await daemon.router.update_policy({"privacy": {"enabled": False}})  # type: ignore[attr-defined]
    alerts_before = len(daemon.events.recent(kinds={"agents.alert"}))
    run = await runner(daemon, privacy.create(daemon)).run("privacy")
    assert run["data"]["leaks"], run
    insight = daemon.memory.service.book.insights(agent="privacy")[0]  # type: ignore[attr-defined]
    assert insight["importance"] == 1.0 and "leak" in insight["tags"]
    alerts = daemon.events.recent(kinds={"agents.alert"})
    assert len(alerts) == alerts_before + 1 and alerts[-1].data["kind"] == "privacy_leak"


def ledger_row(app: str, model: str, usd: float, ts: float) -> dict[str, Any]:
    return {
        "id": "rh-" + uuid.uuid4().hex[:24],
        "ts": ts,
        "app": app,
        "dialect": "openai",
        "endpoint": "chat",
        "model_asked": model,
        "model_used": model,
        "backend": "cloudy",
        "tokens_in": 900,
        "tokens_out": 30,
        "latency_ms": 800.0,
        "status": 200,
        "cost_usd": usd,
        "cache": "miss",
    }


async def test_cost_analyst_finds_trends_top_spenders_and_savings(daemon: Daemon) -> None:
    now = time.time()
    rows = [
        ledger_row("open-webui", "cloudy/gpt-4o", 0.30, now - 3 * DAY + i) for i in range(20)
    ]  # $6 this week
    rows += [
        ledger_row("open-webui", "cloudy/gpt-4o", 0.10, now - 10 * DAY + i) for i in range(20)
    ]  # $2 before
    rows += [ledger_row("zed", "cloudy/gpt-4o-mini", 0.01, now - 2 * DAY + i) for i in range(5)]
    rows += [ledger_row("open-webui", "local/smollm2-135m", 0.0, now - DAY)]
    await daemon.store.write(lambda db: db["requests"].insert_all(rows))

    run = await runner(daemon, costs.create(daemon)).run("costs")
    assert run["status"] == "ok" and run["data"]["total_7d"] == pytest.approx(6.05)
    texts = [i["text"] for i in daemon.memory.service.book.insights(agent="costs")]  # type: ignore[attr-defined]
    assert "open-webui spent $6.00 on cloud models last week." in texts
    assert "Cloud spend of open-webui is increasing week over week." in texts
    assert (
        "Moving open-webui requests from cloudy/gpt-4o to a local model would save $25.71 per month." in texts
    )
    assert not any("zed" in t for t in texts)  # five cents is below the threshold worth a memory


def test_shortening_keeps_the_instructions() -> None:
    system = (
        "You are a helpful assistant. Generate a concise title.\n"
        "**Use at most five words.** Use at most five words.\n"
        "### Examples\n- Stock market trends\n- Perfect pasta recipe\n### Output\nReply with the title only."
    )
    short = shorten(system)
    assert "concise title" in short and "Reply with the title only." in short
    assert "pasta" not in short and short.count("five words") == 1 and "**" not in short


async def test_prompt_optimizer_replays_before_it_suggests(
    daemon: Daemon, openai_standin: OpenAIStandin
) -> None:
    system = (
        "### Task: Generate a concise title for the chat below. "
        "Use at most five words. Use at most five words.\n"
        "### Examples\n- Stock market trends\n- Perfect pasta recipe\n- Evolution of music streaming\n"
        "### Output\nReply with the title only."
    )
    for topic in ("sourdough baking", "tax returns", "a trip to Lisbon"):
        request = ChatRequest(
            model="cloudy/gpt-4o-mini",
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": f"Chat about {topic}."},
            ],
            app="open-webui",
        )
        exchange = await daemon.gateway.open(request)
        answer = "".join([c.content async for c in exchange.chunks])
        assert await observe(daemon, request, exchange.route, answer)
    # A private or local request is never sampled.
    local = ChatRequest(model="local", messages=[{"role": "user", "content": "hi"}], app="open-webui")
    exchange = await daemon.gateway.open(local)
    assert not await observe(
        daemon, local, exchange.route, "".join([c.content async for c in exchange.chunks])
    )

    strict = await runner(daemon, prompts.create(daemon), similarity=0.99, replays=3).run("prompts")
    assert strict["status"] == "ok", strict["error"]
    (proposal,) = strict["data"]["proposals"]
    assert proposal["task"] == "title_generation" and proposal["local_replay"][1] == 3
    # The small local model's titles are not the cloud's: no cheaper route is suggested.
    assert "route" not in proposal
    # The stand-in cloud answers the same whatever the prompt, so the shorter prompt passes its replay.
    assert proposal["short_prompt_replay"] == [3, 3] and strict["insights"] == 1

    lenient = await runner(daemon, prompts.create(daemon), similarity=-1.0, replays=3).run("prompts")
    (proposal,) = lenient["data"]["proposals"]
    assert proposal["route"] == "local" and "short_prompt" in proposal
    texts = [i["text"] for i in daemon.memory.service.book.insights(agent="prompts")]  # type: ignore[attr-defined]
    assert any(
        t.startswith("open-webui title_generation requests sent to cloudy/gpt-4o-mini can run on")
        for t in texts
    )
    assert any("system prompt of open-webui title_generation requests can be cut" in t for t in texts)


def test_tiers_suggested_from_measurements() -> None:
    measured = {
        "ollama/llama3.2:1b": {"quality": 0.42, "tokens_per_s": 95.0},
        "ollama/qwen2.5:14b": {"quality": 0.88, "tokens_per_s": 14.0},
        "ollama/llama3.1:8b": {"quality": 0.74, "tokens_per_s": 31.0},
        "local/smollm2-135m": {"quality": 0.1, "tokens_per_s": 240.0},  # fast but not good enough
    }
    tiers = performance.suggest_tiers(measured)
    assert tiers["fast"][0] == "ollama/llama3.2:1b"
    assert tiers["reasoning"][0] == "ollama/qwen2.5:14b"
    assert tiers["balanced"] == ["ollama/llama3.2:1b", "ollama/llama3.1:8b", "ollama/qwen2.5:14b"]
    assert "local/smollm2-135m" not in tiers["fast"]
    assert performance.suggest_tiers({"local/smollm2-135m": {"quality": 0.0, "tokens_per_s": 9.0}}) == {}
