"""Control API of spend: budgets, spend by day / provider / app, forecast and savings."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from roundhouse.daemon.api.common import daemon_of
from roundhouse.daemon.api.errors import ApiError

router = APIRouter(prefix="/control/v1/spend", tags=["spend"])
Window = Literal["daily", "monthly"]


def _spend(request: Request) -> Any:
    spend = daemon_of(request).spend
    if not hasattr(spend, "budget_status"):
        raise ApiError(404, "spend tracking is not enabled", code="spend_disabled")
    return spend


@router.get("", summary="Budgets, forecast and savings in one answer (the budget window's first call)")
async def summary(request: Request) -> dict[str, Any]:
    return dict(_spend(request).summary())


@router.get("/budgets", summary="Budgets and how much of each is spent")
async def budgets(request: Request) -> dict[str, Any]:
    spend = _spend(request)
    return {"settings": spend.settings.model_dump(), "status": spend.budget_status()}


@router.patch(
    "/budgets", summary="Edit budgets: {budget: {daily_usd, monthly_usd}, apps: {...}, on_exhausted}"
)
async def edit_budgets(request: Request, patch: dict[str, Any]) -> dict[str, Any]:
    spend = _spend(request)
    allowed = {"budget", "apps", "on_exhausted", "thresholds", "reference_model", "prices"}
    unknown = sorted(set(patch) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", code="invalid_budget")
    try:
        await spend.update(patch)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ApiError(422, f"invalid budget: {where}: {first.get('msg')}", code="invalid_budget") from exc
    return {"settings": spend.settings.model_dump(), "status": spend.budget_status()}


@router.delete("/budgets", summary="Drop runtime budget edits and go back to the config file")
async def reset_budgets(request: Request) -> dict[str, Any]:
    spend = _spend(request)
    await spend.reset()
    return {"settings": spend.settings.model_dump(), "status": spend.budget_status()}


@router.get("/by-day", summary="Spend per day")
async def by_day(request: Request, days: int = Query(30, ge=1, le=366)) -> dict[str, Any]:
    now = time.time()
    return {"days": _spend(request).ledger.by_day(now - days * 86400, now + 1)}


def _span(spend: Any, window: str) -> tuple[float, float, str]:
    span = spend._window(window)
    return span.start, span.end, span.key


@router.get("/by-provider", summary="Spend per provider (local backends show as their own name)")
async def by_provider(request: Request, window: Window = "monthly") -> dict[str, Any]:
    spend = _spend(request)
    start, end, key = _span(spend, window)

    def provider(row: dict[str, Any]) -> str:
        model = row.get("model_used") or ""
        if "/" in model and row.get("backend") not in spend._local_backends():
            return model.split("/", 1)[0]
        return str(row.get("backend") or "unknown")

    return {"window": window, "period": key, "providers": spend.ledger.grouped(start, end, provider)}


@router.get("/by-app", summary="Spend per app")
async def by_app(request: Request, window: Window = "monthly") -> dict[str, Any]:
    spend = _spend(request)
    start, end, key = _span(spend, window)
    return {"window": window, "period": key, "apps": spend.ledger.grouped(start, end, lambda r: r["app"])}


@router.get("/by-model", summary="Spend per model")
async def by_model(request: Request, window: Window = "monthly") -> dict[str, Any]:
    spend = _spend(request)
    start, end, key = _span(spend, window)
    return {
        "window": window,
        "period": key,
        "models": spend.ledger.grouped(start, end, lambda r: r["model_used"] or "none"),
    }


@router.get("/forecast", summary="Month-end forecast")
async def forecast(request: Request) -> dict[str, Any]:
    return dict(_spend(request).forecast())


@router.get("/saved", summary="What locally served requests would have cost on the reference cloud model")
async def saved(request: Request, window: Window = "monthly") -> dict[str, Any]:
    return dict(_spend(request).saved(window))
