"""Telling a host that lets itself be driven to load or unload a model, through its engine's API.

  ollama      POST /api/generate {"model": m} loads; {"model": m, "keep_alive": 0} unloads
  llamacpp    (router mode) POST /models/load and POST /models/unload {"model": m}; both return
              before the work is done, so the model's `status` in GET /models is watched
  llama-swap  POST /api/models/unload/<model> (returns once the process has stopped); a GET on
              /upstream/<model>/ starts the model, as llama-swap's own preload does

Every other kind manages its own memory: these return False without a request. Neither call
raises for a host that is down or refuses: the answer is False.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from roundhouse.daemon.fleet.hosts import HostSettings

log = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 600.0  # a large model from a slow disk
UNLOAD_TIMEOUT_S = 60.0
_POLL_S = 0.2


async def unload(
    host: HostSettings,
    client: httpx.AsyncClient,
    model: str,
    api_key: str | None = None,
    *,
    timeout_s: float = UNLOAD_TIMEOUT_S,
) -> bool:
    """True once the host has let go of `model`."""
    return await _drive("unloading", _unload_on, host, client, model, api_key, timeout_s)


async def load(
    host: HostSettings,
    client: httpx.AsyncClient,
    model: str,
    api_key: str | None = None,
    *,
    timeout_s: float = LOAD_TIMEOUT_S,
) -> bool:
    """True once `model` is loaded on the host; False where the kind has no load call."""
    return await _drive("loading", _load_on, host, client, model, api_key, timeout_s)


async def _drive(
    doing: str,
    call: Callable[[_Engine, str], Awaitable[bool]],
    host: HostSettings,
    client: httpx.AsyncClient,
    model: str,
    api_key: str | None,
    timeout_s: float,
) -> bool:
    """`call` on a host that lets itself be driven, within `timeout_s`; False, never an error,
    for a host that is down, refuses or is too slow."""
    if not host.driven:
        return False
    try:
        async with asyncio.timeout(timeout_s):
            return await call(_Engine(host, client, api_key, timeout_s), model)
    except (httpx.HTTPError, TimeoutError) as error:
        log.info("%s %s on host %s failed: %s", doing, model, host.name, type(error).__name__)
        return False


async def _unload_on(engine: _Engine, model: str) -> bool:
    if engine.host.kind == "ollama":
        return (await engine.post("/api/generate", {"model": model, "keep_alive": 0})).is_success
    if engine.host.kind == "llamacpp":
        response = await engine.post("/models/unload", {"model": model})
        return response.is_success and await engine.router_settles(model, loaded=False)
    return (await engine.post(f"/api/models/unload/{_path(model)}")).is_success


async def _load_on(engine: _Engine, model: str) -> bool:
    if engine.host.kind == "ollama":
        return (await engine.post("/api/generate", {"model": model})).is_success
    if engine.host.kind == "llamacpp":
        response = await engine.post("/models/load", {"model": model})
        if response.status_code in (404, 405):
            return False  # a single-model server: its model is the process
        # Its status in GET /models decides, whatever the load call answered.
        return await engine.router_settles(model, loaded=True)
    await engine.get(f"/upstream/{_path(model)}/")
    return await engine.swap_running(model)


class _Engine:
    def __init__(
        self, host: HostSettings, client: httpx.AsyncClient, api_key: str | None, timeout_s: float
    ) -> None:
        self.host = host
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(
            self.host.url + path, json=body, headers=self.headers, timeout=self.timeout_s
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(self.host.url + path, headers=self.headers, timeout=self.timeout_s)

    async def router_settles(self, model: str, *, loaded: bool) -> bool:
        """Watch a llama.cpp router's GET /models until `model` is loaded (or unloaded); the
        caller's timeout bounds the wait."""
        while True:
            status = await self.router_status(model)
            if status is None:
                return False
            value = status.get("value")
            if loaded and value == "loaded":
                return True
            if not loaded and value == "unloaded":
                return True
            if loaded and value == "unloaded" and status.get("failed"):
                return False
            await asyncio.sleep(_POLL_S)

    async def router_status(self, model: str) -> dict[str, Any] | None:
        response = await self.get("/models")
        if not response.is_success:
            return None
        try:
            entries = response.json().get("data")
        except (ValueError, AttributeError):
            return None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("id") == model and isinstance(entry.get("status"), dict):
                return entry["status"]
        return None

    async def swap_running(self, model: str) -> bool:
        response = await self.get("/running")
        if not response.is_success:
            return False
        try:
            running = response.json().get("running")
        except (ValueError, AttributeError):
            return False
        return isinstance(running, list) and any(
            isinstance(entry, dict) and entry.get("model") == model and entry.get("state") == "ready"
            for entry in running
        )


def _path(model: str) -> str:
    return quote(model, safe="/:@")
