"""The FastAPI application: every face, the guard, and the daemon's lifespan."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from roundhouse.daemon import __version__, api
from roundhouse.daemon.api import (
    anthropic_api,
    control,
    dashboard,
    declared_errors,
    errors,
    images_api,
    metrics,
    ollama_api,
    openai_api,
    responses_api,
)
from roundhouse.daemon.api.fast_lane import FastLane
from roundhouse.daemon.api.guard import ASGIApp, Guard, Receive, Scope, Send
from roundhouse.daemon.api.ollama_manage import router as ollama_manage_router
from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)


def _concern_routers() -> list[Any]:
    """Every `daemon/api/control_<concern>.py` router, found by name."""
    routers = []
    for module in pkgutil.iter_modules(api.__path__):
        if module.name.startswith("control_"):
            routers.append(importlib.import_module(f"{api.__name__}.{module.name}").router)
    return routers


class RoundhouseApp:
    """The ASGI app uvicorn serves: the guard, then the fast lane, then FastAPI for the rest."""

    def __init__(self, api: FastAPI, entry: ASGIApp) -> None:
        self.api = api
        self.state = api.state
        self._entry = entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)


def create_app(daemon: Daemon) -> RoundhouseApp:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await daemon.start()
        try:
            yield
        finally:
            await daemon.stop()

    app = FastAPI(
        title="Roundhouse",
        version=__version__,
        description="One local endpoint for local and cloud models, in the OpenAI and Ollama dialects.",
        lifespan=lifespan,
    )
    app.state.rh = daemon
    app.state.metrics = metrics.Metrics(daemon)
    errors.install(app)
    declared_errors.install(app)

    @app.get("/health", tags=["Control"], summary="200 once the daemon is ready")
    async def health(request: Request) -> JSONResponse:
        d: Daemon = request.app.state.rh
        if not d.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok", "version": d.version})

    # HEAD / is the heartbeat of Ollama's clients.
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def root() -> dict[str, str]:
        return {"name": "Roundhouse", "version": __version__, "docs": "/docs"}

    app.include_router(openai_api.router)
    app.include_router(ollama_api.router)
    app.include_router(ollama_manage_router)
    app.include_router(anthropic_api.router)
    app.include_router(responses_api.router)
    app.include_router(images_api.router)
    app.include_router(control.router)
    app.include_router(metrics.router)
    app.include_router(dashboard.router)
    for router in _concern_routers():
        app.include_router(router)

    settings = daemon.settings.server
    lanes = {**openai_api.LANES, **ollama_api.LANES, **anthropic_api.LANES, **responses_api.LANES}
    guarded = Guard(
        FastLane(app, daemon, lanes),
        tokens=daemon.tokens,
        loopback_only=daemon.settings.loopback_only,
        max_body_bytes=settings.max_body_bytes,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.allowed_origins,
    )
    return RoundhouseApp(app, guarded)
