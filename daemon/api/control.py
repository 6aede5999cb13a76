"""The control API the tray (and any script) uses: /control/v1/...

Concerns add their own routers in `daemon/api/control_<concern>.py`; this file holds the
core: status, models, recent requests, events, app tokens and provider keys.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from roundhouse.daemon.api.common import daemon_of
from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.events import Event
from roundhouse.daemon.secrets import PROVIDERS, NoSecureStore

router = APIRouter(prefix="/control/v1", tags=["Control"])


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="App name, e.g. 'open-webui' or 'editor'")
    scope: Literal["app", "admin"] = Field(
        "app", description="'app': inference and its own ledger rows; 'admin': the whole control API"
    )


class KeySet(BaseModel):
    key: str = Field(min_length=8, description="The provider's API key; stored in the OS keyring only")


@router.get("/status", summary="Version, uptime, backends and their health, loaded models, mode")
async def status(request: Request) -> dict[str, Any]:
    return await daemon_of(request).status()


@router.get("/models", summary="Every model, with where it runs")
async def models(request: Request) -> dict[str, Any]:
    d = daemon_of(request)
    rows = []
    for m in await d.catalog.all_models():
        rows.append(
            {
                "id": m.id,
                "backend": m.backend,
                "native": m.native,
                "local": m.local,
                "kind": m.kind,
                "virtual": m.virtual,
                "family": m.family,
                "parameter_size": m.parameter_size,
                "quantization": m.quantization,
                "size_bytes": m.size_bytes,
                "context_length": m.context_length,
            }
        )
    return {"models": rows}


@router.get("/requests", summary="Recent requests from the ledger, newest first (an app token: its own)")
async def recent_requests(
    request: Request,
    limit: int = Query(50, ge=1, le=1000),
    app: str | None = None,
) -> dict[str, Any]:
    d = daemon_of(request)
    state = request.scope.get("state", {})
    if state.get("token_scope") != "admin":
        app = state.get("app_name", "unknown")
    where, params = ("WHERE app = ?", [app]) if app else ("", [])

    def read(db: Any) -> list[dict[str, Any]]:
        return list(db.query(f"SELECT * FROM requests {where} ORDER BY ts DESC LIMIT ?", [*params, limit]))

    rows = await d.store.read(read)
    for row in rows:
        if row.get("route_json"):
            row["route"] = json.loads(row.pop("route_json"))
    return {"requests": rows}


@router.get("/events", summary="Server-sent events: request.done, budget, residency, ... (?since=seq)")
async def events(request: Request, since: int = 0, once: bool = False) -> StreamingResponse:
    bus = daemon_of(request).events

    async def stream() -> AsyncIterator[bytes]:
        for event in bus.recent(since):
            yield _sse(event)
        if once:
            return
        subscription = bus.subscribe()
        try:
            while True:
                try:
                    event = await asyncio.wait_for(anext(subscription), timeout=15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield _sse(event)
        finally:
            await subscription.aclose()

    return StreamingResponse(stream(), media_type="text/event-stream")


def _sse(event: Event) -> bytes:
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(event.as_dict())}\n\n".encode()


@router.get("/tokens", summary="App tokens (names and last four characters only)")
async def list_tokens(request: Request) -> dict[str, Any]:
    return {"tokens": daemon_of(request).tokens.list()}


@router.post("/tokens", summary="Create (or replace) an app's token; shown once")
async def create_token(body: TokenCreate, request: Request) -> dict[str, str]:
    try:
        token = await asyncio.to_thread(daemon_of(request).tokens.create, body.name, body.scope)
    except ValueError as exc:
        raise ApiError(400, str(exc), code="invalid_name", param="name") from None
    return {"name": body.name, "token": token, "scope": body.scope}


@router.delete("/tokens/{name}", summary="Revoke an app's token")
async def revoke_token(name: str, request: Request) -> dict[str, Any]:
    if not await asyncio.to_thread(daemon_of(request).tokens.revoke, name):
        raise ApiError(404, f"no token for app '{name}'", code="not_found")
    return {"revoked": name}


@router.get("/keys", summary="Providers with a stored key (last four characters only) and the keyring in use")
async def list_keys(request: Request) -> dict[str, Any]:
    secrets = daemon_of(request).secrets

    def read() -> dict[str, Any]:
        ok, detail = secrets.available()
        stored = set(secrets.names()) if ok else set()
        return {
            "keyring": {"available": ok, "detail": detail},
            "providers": [
                {"provider": p, "stored": p in stored, "hint": secrets.hint(p) if p in stored else None}
                for p in PROVIDERS
            ],
        }

    return await asyncio.to_thread(read)


def _provider(name: str) -> str:
    if name not in PROVIDERS:
        raise ApiError(
            404, f"unknown provider '{name}'; known: {', '.join(PROVIDERS)}", code="unknown_provider"
        )
    return name


@router.put("/keys/{provider}", summary="Store or replace a provider's key in the OS keyring")
async def set_key(provider: str, body: KeySet, request: Request) -> dict[str, Any]:
    d = daemon_of(request)
    name = _provider(provider)
    try:
        await asyncio.to_thread(d.secrets.set, name, body.key)
    except NoSecureStore as exc:
        raise ApiError(409, str(exc), code="no_keyring") from None
    await d.catalog.refresh(force=True)
    return {"provider": name, "stored": True, "hint": await asyncio.to_thread(d.secrets.hint, name)}


@router.delete("/keys/{provider}", summary="Delete a provider's key from the OS keyring")
async def delete_key(provider: str, request: Request) -> dict[str, Any]:
    d = daemon_of(request)
    name = _provider(provider)
    try:
        found = await asyncio.to_thread(d.secrets.delete, name)
    except NoSecureStore as exc:
        raise ApiError(409, str(exc), code="no_keyring") from None
    if not found:
        raise ApiError(404, f"no key stored for {name}", code="not_found")
    await d.catalog.refresh(force=True)
    return {"provider": name, "stored": False}


@router.post("/keys/{provider}/test", summary="A one-token call to the provider with the stored key")
async def test_key(provider: str, request: Request) -> dict[str, Any]:
    from roundhouse.daemon.backends.base import BackendError
    from roundhouse.daemon.models import ChatRequest

    d = daemon_of(request)
    name = _provider(provider)
    await d.catalog.refresh(force=True)
    model = next((m for m in d.catalog.models() if not m.local and m.native.startswith(name + "/")), None)
    if model is None:
        raise ApiError(404, f"no key stored for {name}", code="not_found")
    backend = d.catalog.backends[model.backend]
    probe = ChatRequest(
        model=model.id, messages=[{"role": "user", "content": "Say OK."}], max_tokens=1, app="roundhouse"
    )
    try:
        async for _ in backend.chat(probe, model):
            pass
    except BackendError as exc:
        return {"provider": name, "ok": False, "model": model.id, "detail": str(exc)}
    return {"provider": name, "ok": True, "model": model.id}
