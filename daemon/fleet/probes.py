"""A look at one host through its engine's own API: what it has loaded, what it could load, its
memory where it says, and its own queue where it keeps one.

Each engine is read the way its documentation describes:

  ollama      GET /api/ps (loaded, with bytes) and GET /api/tags (installed)
  llamacpp    GET /health where it answers (503 while the model loads); then llama-server in
              router mode: GET /models, each entry with a `status` object; a single-model
              server (llama-server, or llama-cpp-python's llama_cpp.server): GET /v1/models,
              what it serves is loaded, and GET /metrics (with --metrics) for its queue
  llama-swap  GET /running (`{"running": [{"model", "state"}]}`) and GET /v1/models
  lmstudio    GET /api/v1/models (LM Studio 0.4+), else GET /api/v0/models (`state`), else
              GET /v1/models
  vllm        GET /v1/models (all served models are loaded) and GET /metrics (Prometheus text)
  openai      GET /v1/models

A probe never raises for a host that is down, slow, refuses its key or answers nonsense: the
reading says ok=False and why. The API key travels only in the Authorization header.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from roundhouse.daemon.fleet.hosts import HostSettings
from roundhouse.daemon.fleet.reading import HostReading

GiB = 1024**3
PROBE_TIMEOUT_S = 2.0
# llama.cpp router: a model that is loading already holds (or is taking) its memory.
_ROUTER_RESIDENT = frozenset({"loaded", "loading"})
# llama-swap process states (internal/process/process.go); "stopping" is on its way out.
_SWAP_RESIDENT = frozenset({"ready", "starting"})
_MISSING = frozenset({404, 405, 501})


class ProbeError(Exception):
    """Why a host could not be read, in words fit for the user."""


@dataclass(slots=True)
class EngineApi:
    """GET requests to one host, with its key, turning every failure into a ProbeError."""

    host: HostSettings
    client: httpx.AsyncClient
    api_key: str | None
    timeout_s: float

    @property
    def where(self) -> str:
        parts = urlsplit(self.host.url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def get(
        self, path: str, *, optional: bool = False, accept: frozenset[int] = frozenset()
    ) -> httpx.Response | None:
        """The answer to GET `path` (also when its status is in `accept`); None when `optional`
        and the engine has no such endpoint."""
        try:
            response = await self.client.get(
                self.host.url + path, headers=self.headers(), timeout=self.timeout_s
            )
        except httpx.TimeoutException as error:
            raise TimeoutError from error
        except httpx.HTTPError as error:
            raise ProbeError(f"cannot connect to {self.where} ({_reason(error)})") from None
        if response.status_code in accept:
            return response
        if optional and response.status_code in _MISSING:
            return None
        if response.status_code in (401, 403):
            if self.api_key:
                raise ProbeError(f"{self.where} refused the API key (HTTP {response.status_code})")
            raise ProbeError(f"{self.where} wants an API key (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise ProbeError(f"GET {path} answered HTTP {response.status_code}")
        return response

    async def json(self, path: str, *, optional: bool = False) -> Any:
        response = await self.get(path, optional=optional)
        if response is None:
            return None
        try:
            return response.json()
        except ValueError:
            if optional:
                return None
            raise ProbeError(f"GET {path} answered something that is not JSON") from None


async def probe(
    host: HostSettings,
    client: httpx.AsyncClient,
    api_key: str | None = None,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> HostReading:
    """Read `host` now, within `timeout_s` for the whole look."""
    api = EngineApi(host, client, api_key, timeout_s)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            reading = await _READERS[host.kind](api)
    except TimeoutError:
        reading = HostReading(ok=False, detail=f"timed out after {timeout_s:g} s")
    except ProbeError as error:
        reading = HostReading(ok=False, detail=str(error))
    except Exception as error:  # an answer shaped in a way no reader foresaw: still only a reading
        reading = HostReading(ok=False, detail=f"could not read its answer ({type(error).__name__})")
    if api_key and api_key in reading.detail:  # an engine that echoes the header back
        reading.detail = reading.detail.replace(api_key, "***")
    reading.latency_ms = (time.perf_counter() - started) * 1000
    return reading


# -- one reader per kind ---------------------------------------------------------------


async def _read_ollama(api: EngineApi) -> HostReading:
    running = _items(await api.json("/api/ps"), "models", "/api/ps")
    installed = _items(await api.json("/api/tags"), "models", "/api/tags")
    loaded: dict[str, int] = {}
    for entry in running:
        name = _name(entry, "name", "/api/ps")
        loaded[name] = _bytes(entry.get("size_vram")) or _bytes(entry.get("size"))
    total = int(api.host.memory_gb * GiB) if api.host.memory_gb else None
    return HostReading(
        ok=True,
        loaded=loaded,
        models=[_name(entry, "name", "/api/tags") for entry in installed],
        memory_total_bytes=total,
        memory_used_bytes=sum(loaded.values()),
    )


async def _read_llamacpp(api: EngineApi) -> HostReading:
    # Public (no key) and 503 while a single-model server loads its model.
    health = await api.get("/health", optional=True, accept=frozenset({503}))
    if health is not None and health.status_code == 503:
        return HostReading(ok=False, detail="the server is still loading its model")
    listing = await api.json("/models", optional=True)
    entries = listing.get("data") if isinstance(listing, dict) else None
    if isinstance(entries, list) and any(
        isinstance(e, dict) and isinstance(e.get("status"), dict) for e in entries
    ):
        models = [_name(e, "id", "/models") for e in entries]
        loaded = {
            _name(e, "id", "/models"): 0
            for e in entries
            if isinstance(e.get("status"), dict) and e["status"].get("value") in _ROUTER_RESIDENT
        }
        return HostReading(ok=True, detail="router mode", loaded=loaded, models=models)
    # A single-model llama-server answers /models as /v1/models; llama_cpp.server has no /models.
    if not isinstance(entries, list):
        listing = await api.json("/v1/models")
    served = _items(listing, "data", "/v1/models")
    models = [_name(entry, "id", "/v1/models") for entry in served]
    # llama-server's `meta.size` is the model's bytes (null while loading); llama_cpp.server has none.
    loaded = {
        name: _bytes(entry["meta"].get("size")) if isinstance(entry.get("meta"), dict) else 0
        for name, entry in zip(models, served, strict=True)
    }
    reading = HostReading(ok=True, loaded=loaded, models=models)
    # Only with --metrics; 501 without it (tools/server/README.md).
    metrics = await _optional_metrics(api)
    if metrics is not None:
        try:
            gauges = _gauges(metrics.text)
        except ValueError:
            return reading
        reading.running = int(sum(gauges.get("llamacpp:requests_processing", [])))
        reading.waiting = int(sum(gauges.get("llamacpp:requests_deferred", [])))
    return reading


async def _read_llama_swap(api: EngineApi) -> HostReading:
    running = _items(await api.json("/running"), "running", "/running")
    loaded = {
        _name(entry, "model", "/running"): 0 for entry in running if entry.get("state") in _SWAP_RESIDENT
    }
    models = _ids(await api.json("/v1/models"), "/v1/models")
    return HostReading(ok=True, loaded=loaded, models=models)


async def _read_lmstudio(api: EngineApi) -> HostReading:
    native = await api.json("/api/v1/models", optional=True)
    if isinstance(native, dict) and isinstance(native.get("models"), list):
        entries = _items(native, "models", "/api/v1/models")
        loaded = {
            _name(e, "key", "/api/v1/models"): _bytes(e.get("size_bytes")) * len(e["loaded_instances"])
            for e in entries
            if isinstance(e.get("loaded_instances"), list) and e["loaded_instances"]
        }
        total = int(api.host.memory_gb * GiB) if api.host.memory_gb else None
        return HostReading(
            ok=True,
            loaded=loaded,
            models=[_name(e, "key", "/api/v1/models") for e in entries],
            memory_total_bytes=total,
            memory_used_bytes=sum(loaded.values()),
        )
    # LM Studio answers an unknown path with 200 and {"error": ...}: only a list counts.
    older = await api.json("/api/v0/models", optional=True)
    if isinstance(older, dict) and isinstance(older.get("data"), list):
        entries = _items(older, "data", "/api/v0/models")
        loaded = {_name(e, "id", "/api/v0/models"): 0 for e in entries if e.get("state") == "loaded"}
        return HostReading(ok=True, loaded=loaded, models=[_name(e, "id", "/api/v0/models") for e in entries])
    models = _ids(await api.json("/v1/models"), "/v1/models")
    return HostReading(ok=True, detail="no LM Studio REST API: loaded models unknown", models=models)


async def _read_vllm(api: EngineApi) -> HostReading:
    models = _ids(await api.json("/v1/models"), "/v1/models")
    reading = HostReading(ok=True, loaded=dict.fromkeys(models, 0), models=models)
    metrics = await _optional_metrics(api)
    if metrics is None:
        return reading
    try:
        gauges = _gauges(metrics.text)
    except ValueError:
        reading.detail = "its /metrics is not Prometheus text"
        return reading
    reading.running = int(sum(gauges.get("vllm:num_requests_running", [])))
    reading.waiting = int(sum(gauges.get("vllm:num_requests_waiting", [])))
    cache = gauges.get("vllm:kv_cache_usage_perc") or gauges.get("vllm:gpu_cache_usage_perc")
    if cache:
        reading.detail = f"KV cache {max(cache):.0%} used"
    return reading


async def _read_openai(api: EngineApi) -> HostReading:
    return HostReading(ok=True, models=_ids(await api.json("/v1/models"), "/v1/models"))


_READERS: dict[str, Callable[[EngineApi], Awaitable[HostReading]]] = {
    "ollama": _read_ollama,
    "llamacpp": _read_llamacpp,
    "llama-swap": _read_llama_swap,
    "lmstudio": _read_lmstudio,
    "vllm": _read_vllm,
    "openai": _read_openai,
}


# -- shapes ------------------------------------------------------------------------------


def _items(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if items is None and isinstance(body, dict) and key in body:
        return []  # Ollama answers {"models": null} when nothing is there
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ProbeError(f"GET {path} answered an unexpected shape (no '{key}' list)")
    return items


def _name(entry: dict[str, Any], key: str, path: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ProbeError(f"GET {path} answered an entry without a '{key}'")
    return value


def _ids(body: Any, path: str) -> list[str]:
    return [_name(entry, "id", path) for entry in _items(body, "data", path)]


def _bytes(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and value > 0 else 0


async def _optional_metrics(api: EngineApi) -> httpx.Response | None:
    """GET /metrics where the engine serves it; a server whose metrics are locked or broken
    (GPUStack, Ray Serve, a proxy in front) is still read from its models."""
    try:
        return await api.get("/metrics", optional=True)
    except ProbeError:
        return None


def _gauges(text: str) -> dict[str, list[float]]:
    """Every sample of every metric family, by sample name."""
    values: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values.setdefault(sample.name, []).append(float(sample.value))
    return values


def _reason(error: httpx.HTTPError) -> str:
    return str(error) or type(error).__name__
