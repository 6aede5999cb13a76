"""The cost analyst: spend trends, the apps and patterns that cost most, and what moving a
pattern to a local model would save (local models cost nothing per token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roundhouse.daemon.agents.context import APP_PREFIX, AgentContext
from roundhouse.daemon.agents.protocol import AgentResult

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

WEEK_S = 7 * 86400.0
# A change smaller than this share of last week's spend is not a trend.
TREND_MIN_CHANGE = 0.2


class CostAnalyst:
    name = "costs"
    description = "Finds spend trends, the costliest apps and patterns, and savings from local models"
    default_every_s = 86400.0

    async def run(self, ctx: AgentContext) -> AgentResult:
        now = ctx.clock()
        week, before = now - WEEK_S, now - 2 * WEEK_S
        min_usd = float(ctx.options.get("min_usd", 0.5))
        apps = await ctx.ledger(
            "SELECT app, "
            "SUM(CASE WHEN ts >= ? THEN cost_usd ELSE 0 END) AS this_week, "
            "SUM(CASE WHEN ts < ? THEN cost_usd ELSE 0 END) AS last_week, "
            "SUM(CASE WHEN ts >= ? THEN 1 ELSE 0 END) AS requests "
            "FROM requests WHERE ts >= ? AND app NOT LIKE ? AND cost_usd > 0 "
            "GROUP BY app ORDER BY this_week DESC",
            [week, week, week, before, APP_PREFIX + "%"],
        )
        patterns = await ctx.ledger(
            "SELECT app, endpoint, model_used, COUNT(*) AS requests, SUM(cost_usd) AS usd, "
            "AVG(tokens_in) AS avg_in, AVG(tokens_out) AS avg_out "
            "FROM requests WHERE ts >= ? AND cost_usd > 0 AND app NOT LIKE ? "
            "GROUP BY app, endpoint, model_used ORDER BY usd DESC LIMIT 10",
            [week, APP_PREFIX + "%"],
        )
        total = sum(float(a["this_week"] or 0) for a in apps)
        for row in apps:
            self._app_findings(ctx, row, total, min_usd)
        savings = []
        for row in patterns[: int(ctx.options.get("patterns", 3))]:
            usd = float(row["usd"] or 0)
            if usd < min_usd:
                continue
            ids = await ctx.ledger(
                "SELECT id FROM requests WHERE ts >= ? AND app = ? AND model_used = ? "
                "ORDER BY ts DESC LIMIT 5",
                [week, row["app"], row["model_used"]],
            )
            monthly = usd * 30 / 7
            savings.append({**row, "monthly_usd": monthly})
            ctx.insight(
                f"Moving {row['app']} requests from {row['model_used']} to a local model would save "
                f"${monthly:.2f} per month.",
                importance=min(1.0, 0.4 + monthly / 50),
                confidence=0.6,
                actionability=0.9,
                tags=["cost", f"app:{row['app']}"],
                evidence={"pattern": row, "window_days": 7},
                request_ids=[r["id"] for r in ids],
            )
        return AgentResult(
            summary=f"${total:.2f} cloud spend in 7 days across {len(apps)} apps",
            data={"apps": apps, "patterns": patterns, "savings": savings, "total_7d": total},
        )

    def _app_findings(self, ctx: AgentContext, row: dict[str, Any], total: float, min_usd: float) -> None:
        this_week, last_week = float(row["this_week"] or 0), float(row["last_week"] or 0)
        app = row["app"]
        evidence = {"this_week_usd": this_week, "last_week_usd": last_week, "requests": row["requests"]}
        if this_week >= min_usd:
            share = this_week / total if total else 0.0
            ctx.insight(
                f"{app} spent ${this_week:.2f} on cloud models last week.",
                importance=min(1.0, 0.3 + share),
                confidence=0.9,
                tags=["cost", f"app:{app}"],
                evidence={**evidence, "share": share},
            )
        base = max(last_week, 1e-9)
        change = (this_week - last_week) / base
        if max(this_week, last_week) >= min_usd and abs(change) >= TREND_MIN_CHANGE and last_week > 0:
            direction = "increasing" if change > 0 else "decreasing"
            ctx.insight(
                f"Cloud spend of {app} is {direction} week over week.",
                importance=0.5 + min(0.4, abs(change) / 5),
                confidence=0.7,
                tags=["cost", "trend", f"app:{app}"],
                evidence={**evidence, "change": change},
            )


def create(daemon: Daemon) -> CostAnalyst:
    return CostAnalyst()
