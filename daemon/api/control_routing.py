"""Control API of routing: the policy (mode, tiers, apps, privacy rules), recent decisions
with their reasons, a dry-run explanation, and feedback that teaches the complexity vote."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, ValidationError

from roundhouse.daemon.api.common import daemon_of
from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.routing.explain import explain_prompt
from roundhouse.daemon.routing.settings import TIERS
from roundhouse.daemon.routing.tiers import tier_map

# Paths are /control/v1/routing/... plus /control/v1/feedback, which the issue names.
router = APIRouter(prefix="/control/v1", tags=["routing"])


class ExplainBody(BaseModel):
    prompt: str = Field(min_length=1, max_length=1_000_000)
    model: str = "auto"
    app: str = "control"


class PrivacyCheck(BaseModel):
    text: str = Field(max_length=1_000_000)


class FeedbackBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=200)
    verdict: Literal["good", "bad"] = "bad"
    tier: Literal["fast", "balanced", "reasoning", "cloud"] | None = Field(
        default=None, description="where the request should have gone"
    )


def _router(request: Request) -> Any:
    routing = daemon_of(request).router
    if not hasattr(routing, "update_policy"):
        raise ApiError(404, "the routing policy is not enabled", code="routing_disabled")
    return routing


def _policy(routing: Any) -> dict[str, Any]:
    return {"policy": routing.settings.model_dump(), "edited": routing._patch, "tiers_known": list(TIERS)}


@router.get("/routing/policy", summary="The routing policy in force (file settings with runtime edits)")
async def get_policy(request: Request) -> dict[str, Any]:
    return _policy(_router(request))


@router.patch("/routing/policy", summary="Edit the policy: mode, tiers, apps, privacy rules, cascade...")
async def patch_policy(request: Request, patch: dict[str, Any]) -> dict[str, Any]:
    routing = _router(request)
    try:
        await routing.update_policy(patch)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ApiError(422, f"invalid policy: {where}: {first.get('msg')}", code="invalid_policy") from exc
    return _policy(routing)


@router.put("/routing/mode/{mode}", summary="Local only / Hybrid / Cloud allowed")
async def set_mode(request: Request, mode: Literal["local", "hybrid", "cloud"]) -> dict[str, Any]:
    routing = _router(request)
    await routing.update_policy({"mode": mode})
    return {"mode": routing.mode}


@router.delete("/routing/policy", summary="Drop the runtime edits and go back to the config file")
async def reset_policy(request: Request) -> dict[str, Any]:
    routing = _router(request)
    await routing.reset_policy()
    return _policy(routing)


@router.get("/routing/tiers", summary="Which model serves which tier right now")
async def tiers(request: Request) -> dict[str, Any]:
    routing = _router(request)
    d = daemon_of(request)
    await d.catalog.refresh()
    mapping = tier_map(d.catalog.models(), routing.settings.tiers)
    return {
        "tiers": {tier: [m.id for m in models] for tier, models in mapping.items()},
        "configured": routing.settings.tiers,
        "cooling": routing.fallback.status(),
    }


@router.get("/routing/decisions", summary="Recent routing decisions with their reasons")
async def decisions(
    request: Request, limit: int = Query(50, ge=1, le=1000), app: str | None = Query(None, max_length=64)
) -> dict[str, Any]:
    return {"decisions": _router(request).recent(limit, app)}


@router.get("/routing/decisions/{request_id}", summary="One decision")
async def decision(request: Request, request_id: str) -> dict[str, Any]:
    found = _router(request).decision(request_id)
    if found is None:
        raise ApiError(404, f"no recent decision for request '{request_id}'", code="decision_not_found")
    return dict(found.as_dict())


@router.post("/routing/explain", summary="Where a prompt would go and why, without running it")
async def explain(request: Request, body: ExplainBody) -> dict[str, Any]:
    return await explain_prompt(daemon_of(request), body.prompt, body.model, body.app)


@router.post("/routing/privacy/check", summary="What the privacy detector finds in a text (kinds only)")
async def privacy_check(request: Request, body: PrivacyCheck) -> dict[str, Any]:
    kinds = _router(request).detector.kinds(body.text)
    return {"private": bool(kinds), "found": kinds}


@router.post("/feedback", summary="good / bad / should have gone to tier X, for a routed request")
async def feedback(request: Request, body: FeedbackBody) -> dict[str, Any]:
    routing = _router(request)
    try:
        return dict(await routing.feedback(body.request_id, body.verdict, body.tier))
    except KeyError as exc:
        raise ApiError(
            404,
            f"no recent routing decision for request '{body.request_id}' (only the last "
            f"{routing.settings.recent_decisions} are kept)",
            code="decision_not_found",
            param="request_id",
        ) from exc
    except ValueError as exc:
        raise ApiError(400, str(exc), code="invalid_feedback") from exc
