"""`roundhoused route --explain "prompt"`: the decision as JSON, without running anything."""

from __future__ import annotations

from typing import Any

from roundhouse.daemon.models import ChatRequest


async def explain_prompt(daemon: Any, prompt: str, model: str = "auto", app: str = "cli") -> dict[str, Any]:
    request = ChatRequest(model=model, messages=[{"role": "user", "content": prompt}], app=app)
    router = daemon.router
    ready = getattr(router, "ready", None)
    if callable(ready):
        await ready()
    decide = getattr(router, "decide_with_signals", None)
    if not callable(decide):
        return dict((await router.decide(request)).explain())
    route, signals, elapsed_ms = await decide(request, dry_run=True)
    explained = dict(route.explain())
    explained["cascade"] = route.cascade
    explained["decision_ms"] = round(elapsed_ms, 3)
    explained["signals"] = {
        "privacy": sorted(set(signals.private_kinds)),
        "masked": sorted(set(signals.masked_kinds)),
        "sticky": signals.sticky,
        "complexity": signals.verdict.as_dict() if signals.verdict is not None else None,
        "tokens_estimate": signals.tokens,
        "budget": signals.budget_block,
        "loaded": sorted(signals.loaded),
        "measured_leaders": {tier: sorted(ids) for tier, ids in signals.leaders.items()},
    }
    return explained
