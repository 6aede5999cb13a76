"""Control API of the background agents: list, enable / disable, schedule, run now, pause and
resume (one or all), and their last results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from roundhouse.daemon.agents.scheduler import UnknownAgent
from roundhouse.daemon.api.errors import ApiError

router = APIRouter(prefix="/control/v1/agents", tags=["agents"])


class AgentPatch(BaseModel):
    enabled: bool | None = None
    every_s: float | None = Field(default=None, ge=60, le=90 * 86400, description="Seconds between runs")


def _agents(request: Request) -> Any:
    agents = getattr(request.app.state.rh, "agents", None)
    if agents is None:
        raise ApiError(404, "background agents are not enabled", code="agents_disabled")
    return agents


def _unknown(name: str, request: Request) -> ApiError:
    known = ", ".join(sorted(_agents(request).agents)) or "none"
    return ApiError(404, f"no agent '{name}'; known: {known}", code="not_found")


@router.get(
    "", summary="Every agent: state, schedule, cloud cap and last result; whether the machine is idle"
)
async def list_agents(request: Request) -> dict[str, Any]:
    agents = _agents(request)
    return {"agents": agents.list(), "paused": agents.all_paused(), "last_check": agents.last_check}


@router.post("/pause", summary="Pause every agent")
async def pause_all(request: Request) -> dict[str, Any]:
    await _agents(request).pause_all()
    return {"paused": True}


@router.post("/resume", summary="Resume every agent")
async def resume_all(request: Request) -> dict[str, Any]:
    await _agents(request).resume_all()
    return {"paused": False}


@router.get("/runs", summary="Recent runs of every agent, newest first")
async def all_runs(request: Request, limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    return {"runs": _agents(request).runs(None, limit)}


@router.patch("/{name}", summary="Enable or disable an agent, or change its schedule")
async def patch_agent(request: Request, name: str, body: AgentPatch) -> dict[str, Any]:
    agents = _agents(request)
    if body.enabled is None and body.every_s is None:
        raise ApiError(400, "nothing to change: give enabled or every_s", code="empty_patch")
    # "*" is the scheduler's all-agents row, not an agent: it has no entry to answer with.
    if not any(a["name"] == name for a in agents.list()):
        raise _unknown(name, request)
    try:
        if body.enabled is not None:
            await agents.set_enabled(name, body.enabled)
        if body.every_s is not None:
            await agents.set_schedule(name, body.every_s)
    except UnknownAgent:
        raise _unknown(name, request) from None
    return next(a for a in agents.list() if a["name"] == name)  # type: ignore[no-any-return]


@router.post("/{name}/run", summary="Run an agent now (waits for the run; ignores idle checks and pauses)")
async def run_now(request: Request, name: str) -> dict[str, Any]:
    try:
        return await _agents(request).run(name, trigger="manual")  # type: ignore[no-any-return]
    except UnknownAgent:
        raise _unknown(name, request) from None


@router.post("/{name}/pause", summary="Pause one agent")
async def pause(request: Request, name: str) -> dict[str, Any]:
    try:
        await _agents(request).pause(name)
    except UnknownAgent:
        raise _unknown(name, request) from None
    return {"agent": name, "paused": True}


@router.post("/{name}/resume", summary="Resume one agent")
async def resume(request: Request, name: str) -> dict[str, Any]:
    try:
        await _agents(request).resume(name)
    except UnknownAgent:
        raise _unknown(name, request) from None
    return {"agent": name, "paused": False}


@router.get("/{name}/runs", summary="One agent's recent runs with cost, insights and errors")
async def runs(request: Request, name: str, limit: int = Query(20, ge=1, le=1000)) -> dict[str, Any]:
    agents = _agents(request)
    if name not in agents.agents:
        raise _unknown(name, request)
    return {"runs": agents.runs(name, limit)}
