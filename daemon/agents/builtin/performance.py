"""The performance analyst: load time, tokens per second, time to first token and quality on
the built-in evaluation, for each local model. Results are kept per model for routing (tier
capabilities) and residency (load costs), and become insights with their evidence."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.agents.builtin.evaluation import is_correct, load_questions
from roundhouse.daemon.agents.builtin.measurements import (
    COMPONENT,
    MIGRATIONS,
    TABLE,
    announce,
    latest_performance,
    record_measurement,
    suggest_tiers,
)
from roundhouse.daemon.agents.context import AgentContext
from roundhouse.daemon.agents.protocol import AgentResult
from roundhouse.daemon.models import ModelInfo, Priority
from roundhouse.daemon.routing.route import Target
from roundhouse.daemon.store import Store

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

SYSTEM = "Answer with the answer only, in a few words."
SPEED_PROMPT = "Count from one to thirty in words, separated by commas."
__all__ = ["TABLE", "PerformanceAnalyst", "create", "latest_performance", "suggest_tiers"]


class PerformanceAnalyst:
    name = "performance"
    description = "Measures each local model's load time, speed, first-token latency and quality"
    default_every_s = 7 * 86400.0

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    def _models(self, ctx: AgentContext) -> list[ModelInfo]:
        chosen = ctx.options.get("models")
        models = [m for m in ctx.daemon.catalog.models() if m.local and m.kind == "chat" and not m.virtual]
        if chosen:
            models = [m for m in models if m.id in chosen]
        return models[: int(ctx.options.get("max_models", 6))]

    async def _load_seconds(self, ctx: AgentContext, model: ModelInfo) -> float | None:
        backend = ctx.daemon.catalog.backends.get(model.backend)
        if backend is None or not ctx.options.get("measure_load", True):
            return None
        target = Target(model, backend)
        residency = ctx.daemon.residency
        unload = getattr(residency, "unload", None)
        preload = getattr(residency, "preload", None)
        if callable(unload) and callable(preload):
            await unload(target)
            started = time.perf_counter()
            await preload(target)
        else:
            # No residency manager: load through the queue at background priority like any request.
            async with ctx.daemon.scheduler.slot(backend.name, Priority.BACKGROUND):
                await backend.unload(model)
                started = time.perf_counter()
                await backend.load(model)
        return time.perf_counter() - started

    async def run(self, ctx: AgentContext) -> AgentResult:
        await ctx.daemon.catalog.refresh()
        questions = load_questions()[: int(ctx.options.get("questions", 50))]
        results: dict[str, dict[str, Any]] = {}
        for model in self._models(ctx):
            load_s = await self._load_seconds(ctx, model)
            speed = await ctx.chat([{"role": "user", "content": SPEED_PROMPT}], model=model.id, max_tokens=48)
            generating = speed.seconds - (speed.ttft_s or 0.0)
            tps = (speed.tokens_out - 1) / generating if speed.tokens_out > 1 and generating > 0 else None
            correct = 0
            evidence_ids = [speed.request_id]
            wrong: list[str] = []
            for question in questions:
                reply = await ctx.chat(
                    [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question.question}],
                    model=model.id,
                    max_tokens=16,
                )
                evidence_ids.append(reply.request_id)
                if is_correct(reply.text, question):
                    correct += 1
                else:
                    wrong.append(question.id)
            quality = correct / len(questions) if questions else None
            row = {
                "model": model.id,
                "measured": ctx.clock(),
                "run_id": ctx.run_id,
                "load_s": load_s,
                "tokens_per_s": tps,
                "ttft_ms": speed.ttft_s * 1000 if speed.ttft_s is not None else None,
                "quality": quality,
                "questions": len(questions),
            }
            results[model.id] = row
            await record_measurement(self.store, row)
            self._insights(ctx, model, row, evidence_ids, wrong)
        tiers = suggest_tiers(latest_performance(self.store))
        if len(results) > 1 and tiers.get("reasoning"):
            best = tiers["reasoning"][0]
            quality = latest_performance(self.store)[best]["quality"]
            ctx.insight(
                f"The best local model on the built-in evaluation is {best}.",
                importance=0.7,
                confidence=0.7,
                tags=["performance", "routing"],
                evidence={"suggested_tiers": tiers, "quality": quality},
            )
        # Routing fills the tiers the user left open from these figures, residency takes the load times.
        announce(ctx.daemon.events, results, tiers)
        summary = ", ".join(
            f"{m}: {r['tokens_per_s'] or 0:.0f} tok/s, quality {100 * (r['quality'] or 0):.0f} %"
            for m, r in results.items()
        )
        return AgentResult(
            summary=summary or "no local chat model to measure",
            data={"models": results, "suggested_tiers": tiers},
        )

    def _insights(
        self, ctx: AgentContext, model: ModelInfo, row: dict[str, Any], ids: list[str], wrong: list[str]
    ) -> None:
        evidence = {
            "measurement": {k: row[k] for k in ("load_s", "tokens_per_s", "ttft_ms", "quality", "questions")}
        }
        tags = ["performance", f"model:{model.id}"]
        if row["tokens_per_s"] is not None:
            ctx.insight(
                f"{model.id} generates about {row['tokens_per_s']:.0f} tokens per second on this machine.",
                importance=0.6, confidence=0.8, tags=tags, evidence=evidence, request_ids=ids[:1],
            )  # fmt: skip
        if row["ttft_ms"] is not None:
            ctx.insight(
                f"Time to first token for {model.id} is about {row['ttft_ms']:.0f} ms.",
                importance=0.5, confidence=0.7, tags=tags, evidence=evidence, request_ids=ids[:1],
            )  # fmt: skip
        if row["load_s"] is not None:
            ctx.insight(
                f"{model.id} takes {row['load_s']:.1f} s to load into memory.",
                importance=0.5, confidence=0.75, tags=tags, evidence=evidence,
            )  # fmt: skip
        if row["quality"] is not None and row["questions"]:
            ctx.insight(
                f"{model.id} answers {100 * row['quality']:.0f}% of the built-in evaluation questions "
                "correctly.",
                importance=0.7, confidence=min(0.95, 0.5 + row["questions"] / 100), tags=tags,
                evidence={**evidence, "wrong": wrong}, request_ids=ids[1:],
            )  # fmt: skip


def create(daemon: Daemon) -> PerformanceAnalyst:
    return PerformanceAnalyst(daemon.store)
