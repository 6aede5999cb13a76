"""Control API of GPU residency: what the GPU holds, and pin / unpin / unload / preload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from roundhouse.daemon.residency.manager import ModelTooLarge, ResidencyManager
from roundhouse.daemon.routing.route import Target

router = APIRouter(prefix="/control/v1/residency", tags=["residency"])


class ModelRef(BaseModel):
    model: str = Field(min_length=1, max_length=300)


class SettingsPatch(BaseModel):
    """The residency settings the tray may change while the daemon runs; omitted ones stay."""

    model_config = ConfigDict(extra="forbid")

    headroom_gb: float | None = Field(default=None, ge=0, le=1024)
    allow_cpu_spill: bool | None = None


def _manager(request: Request) -> ResidencyManager:
    residency = getattr(request.app.state.rh, "residency", None)
    if not isinstance(residency, ResidencyManager):
        raise HTTPException(status_code=404, detail="GPU residency management is not enabled")
    return residency


async def _target(request: Request, manager: ResidencyManager, name: str) -> Target:
    catalog = request.app.state.rh.catalog
    await catalog.refresh()
    target: Target | None = catalog.resolve(name)
    if target is None:
        raise HTTPException(status_code=404, detail=f"model '{name}' not found")
    if not manager.manages(target):
        raise HTTPException(status_code=400, detail=f"model '{target.model.id}' is not a local chat model")
    return target


def _model_status(manager: ResidencyManager, target: Target) -> dict[str, Any]:
    return manager.model_status(manager.tracked[target.model.id])


@router.get("")
async def status(request: Request) -> dict[str, Any]:
    """This machine's GPU and models, and every host of the fleet (`hosts`)."""
    return {**await _manager(request).status(), "hosts": request.app.state.rh.fleet.status()}


@router.patch("/settings", summary="Change headroom_gb or allow_cpu_spill now, without a restart")
async def update_settings(request: Request, body: SettingsPatch) -> dict[str, Any]:
    manager = _manager(request)
    changes = body.model_dump(exclude_none=True)
    for name, value in changes.items():
        setattr(manager.settings, name, value)
    if changes:
        # Requests waiting for room and the reconcile loop look again now, not at the next tick.
        manager.wake()
    return await manager.status()


@router.get("/gpus")
async def gpus(request: Request) -> dict[str, Any]:
    manager = _manager(request)
    reading = await manager.read_machine()
    return {"source": reading.source, "detail": reading.detail, "gpus": manager.gpu_usage()}


@router.post("/pin")
async def pin(request: Request, body: ModelRef) -> dict[str, Any]:
    manager = _manager(request)
    target = await _target(request, manager, body.model)
    await manager.pin(target)
    return _model_status(manager, target)


@router.post("/unpin")
async def unpin(request: Request, body: ModelRef) -> dict[str, Any]:
    manager = _manager(request)
    target = await _target(request, manager, body.model)
    await manager.unpin(target)
    return _model_status(manager, target)


@router.post("/unload")
async def unload(request: Request, body: ModelRef) -> dict[str, Any]:
    manager = _manager(request)
    target = await _target(request, manager, body.model)
    if not await manager.unload(target):
        raise HTTPException(status_code=409, detail=f"model '{target.model.id}' is not loaded")
    return _model_status(manager, target)


@router.post("/preload")
async def preload(request: Request, body: ModelRef) -> dict[str, Any]:
    manager = _manager(request)
    target = await _target(request, manager, body.model)
    try:
        await manager.preload(target)
    except ModelTooLarge as why:
        raise HTTPException(status_code=409, detail=str(why)) from None
    return _model_status(manager, target)
