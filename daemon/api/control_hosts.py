"""Control API of the fleet: every host, what it has loaded, its memory and state; add and
remove hosts while the daemon runs (their API keys go to the OS keyring)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from roundhouse.daemon.app import Daemon
from roundhouse.daemon.fleet.hosts import HostKind, HostSettings
from roundhouse.daemon.fleet.registry import HostExists
from roundhouse.daemon.secrets import NoSecureStore

router = APIRouter(prefix="/control/v1/hosts", tags=["hosts"])


class NewHost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    url: str = Field(min_length=1, max_length=500)
    kind: HostKind = "ollama"
    api_key: SecretStr | None = Field(default=None, max_length=4096)
    memory_gb: float | None = Field(default=None, gt=0, le=100_000)
    max_loaded: int | None = Field(default=None, ge=1, le=1000)
    parallel: int = Field(default=1, ge=1, le=1000)
    local: bool = True


def _daemon(request: Request) -> Daemon:
    daemon: Daemon = request.app.state.rh
    if daemon.fleet_wiring is None:
        raise HTTPException(status_code=503, detail="Roundhouse is still starting; try again in a moment")
    return daemon


@router.get("", summary="Every host: kind, state, loaded models, memory, queue")
async def hosts(request: Request) -> dict[str, Any]:
    return {"hosts": request.app.state.rh.fleet.status()}


@router.post("", status_code=201, summary="Add a host by URL; its API key goes to the OS keyring")
async def add_host(request: Request, body: NewHost) -> JSONResponse:
    daemon = _daemon(request)
    wiring = daemon.fleet_wiring
    assert wiring is not None
    try:
        settings = HostSettings(**body.model_dump(exclude={"api_key"}))
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise HTTPException(status_code=400, detail=f"{first['loc'][-1]}: {message}") from None
    taken = set(daemon.catalog.backends) | {h.name for h in wiring.configured()}
    key = body.api_key.get_secret_value().strip() if body.api_key is not None else ""
    try:
        # Off the loop: the keyring and the database answer in their own time.
        await asyncio.to_thread(wiring.registry.add, settings, key or None, taken=taken)
    except HostExists as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except NoSecureStore as exc:
        raise HTTPException(status_code=400, detail=f"cannot keep the host's API key: {exc}") from None
    await wiring.sync()
    host = daemon.fleet.hosts[settings.name]
    await daemon.fleet.look(host)
    return JSONResponse({"host": host.row()}, status_code=201)


@router.delete("/{name}", summary="Remove a host added here (hosts in config.toml stay)")
async def remove_host(request: Request, name: str) -> dict[str, Any]:
    daemon = _daemon(request)
    wiring = daemon.fleet_wiring
    assert wiring is not None
    host = daemon.fleet.hosts.get(name)
    if host is None:
        raise HTTPException(status_code=404, detail=f"no host named '{name}'")
    if host.origin == "config":
        raise HTTPException(status_code=409, detail=f"'{name}' is set in config.toml; remove it there")
    if host.origin == "built-in":
        raise HTTPException(status_code=409, detail=f"'{name}' is a built-in backend, not an added host")
    await asyncio.to_thread(wiring.registry.remove, name)
    await wiring.sync()
    return {"removed": name}
