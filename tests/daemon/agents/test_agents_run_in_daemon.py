"""The built-in agents on a real, idle daemon: the HTTP app, the real scheduling queue, the
embedded model and the store, with nothing but short intervals from the config. Each agent
must complete a run on its own schedule, and its findings must reach the memory curator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import RunningDaemon
from tests.standins.openai_server import OpenAIStandin

BUILT_IN = ("costs", "performance", "privacy", "prompts")
TITLE_TASK = (
    "### Task: Generate a concise title for the chat below. Use at most five words. "
    "Use at most five words.\n### Examples\n- Stock market trends\n- Perfect pasta recipe\n"
    "### Output\nReply with the title only."
)


def idle_config(cloud_url: str) -> dict[str, Any]:
    return {
        "openai_compat": [{"name": "cloudy", "base_url": cloud_url, "local": False}],
        "routing": {"knn": False},
        # The stand-in cloud is priced, so the cost analyst has spend to look at.
        "spend": {"prices": {"cloudy/gpt-4o-mini": {"input_per_mtok": 2000, "output_per_mtok": 8000}}},
        "agents": {
            "start_delay_s": 0,
            "check_every_s": 0.2,
            "idle": {"quiet_s": 0, "cpu_max_percent": 100, "gpu_max_percent": 100, "run_on_battery": True},
            "agents": {
                "performance": {"options": {"questions": 1}},
                # The two that learn from traffic wait until there is some (enabled below).
                "costs": {"enabled": False, "options": {"min_usd": 0.0001}},
                "prompts": {
                    "enabled": False,
                    "options": {"min_samples": 2, "replays": 2, "similarity": -1.0, "pass_rate": 0.5},
                },
            },
        },
    }


def wait_for(check: Callable[[], Any], what: str, seconds: float = 240.0) -> Any:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen in {seconds:.0f} s; last seen: {last}")


def test_every_built_in_agent_runs_when_the_daemon_is_idle(
    start_daemon: Callable[..., RunningDaemon], openai_standin: OpenAIStandin
) -> None:
    running = start_daemon(**idle_config(openai_standin.url))
    with httpx.Client(base_url=running.url, timeout=120) as client:
        # Cloud traffic first: the cost analyst reads its spend, the prompt optimizer its samples.
        for topic in ("sourdough baking", "tax returns", "a trip to Lisbon"):
            reply = client.post(
                "/v1/chat/completions",
                json={
                    "model": "cloudy/gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": TITLE_TASK},
                        {"role": "user", "content": f"Chat about {topic}."},
                    ],
                },
            )
            assert reply.status_code == 200, reply.text
        for name in ("costs", "prompts"):
            assert client.patch(f"/control/v1/agents/{name}", json={"enabled": True}).status_code == 200

        def finished() -> dict[str, Any] | None:
            listing = client.get("/control/v1/agents").json()
            rows = {a["name"]: a for a in listing["agents"]}
            done = {n: rows[n]["last_result"] for n in BUILT_IN if rows.get(n, {}).get("last_result")}
            done = {n: r for n, r in done.items() if r["status"] != "running"}
            return done if len(done) == len(BUILT_IN) else None

        results = wait_for(finished, "a run of every built-in agent")
        for name, run in results.items():
            assert run["status"] == "ok", (name, run["error"])
            assert run["trigger"] == "schedule", (name, run)
            assert run["insights"] >= 1, (name, run)

        insights = client.get("/control/v1/memory/insights", params={"limit": 1000}).json()["insights"]
        by_agent = {name: [i for i in insights if i["agent"] == name] for name in BUILT_IN}
        assert all(by_agent.values()), {n: len(v) for n, v in by_agent.items()}
        assert any("tokens per second" in i["text"] for i in by_agent["performance"])
        assert any("cloudy/gpt-4o-mini" in i["text"] for i in by_agent["costs"] + by_agent["prompts"])
        decided = client.get("/control/v1/memory/decisions", params={"limit": 1000}).json()["decisions"]
        judged = {d["insight_id"] for d in decided}
        assert all(i["id"] in judged for i in insights), "the curator left insights undecided"
