"""Ollama's model management (/api/pull, create, copy, delete, push), forwarded to the Ollama host
that holds (or will hold) the model, in Ollama's wire shapes.

A name Roundhouse alone knows (the embedded `local/...` models, cloud models, the virtual ones)
is refused with a 400 saying why; the catalog is re-listed after every change so /api/tags
shows it at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from roundhouse.daemon.api.common import daemon_of, first_and_rest
from roundhouse.daemon.api.control_models import ClosingStreamingResponse
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.backends.ollama import OllamaBackend
from roundhouse.daemon.secrets import PROVIDERS

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["Ollama"])

Verb = Literal["pulled", "created", "copied", "deleted", "pushed"]
RESIDENCY_HEADER = "x-roundhouse-residency"
_NAME = Field(min_length=1, max_length=300)
# Older clients (and Ollama's own docs before 0.5) send `name` where newer ones send `model`.
_MODEL = Field(min_length=1, max_length=300, validation_alias=AliasChoices("model", "name"))


class PullBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = _MODEL
    insecure: bool = False
    stream: bool = True


class PushBody(PullBody):
    pass


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    model: str = _MODEL
    from_: str | None = Field(default=None, alias="from", max_length=300)
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    quantize: str | None = None
    stream: bool = True


class CopyBody(BaseModel):
    source: str = _NAME
    destination: str = _NAME


class DeleteBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = _MODEL


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _hosts(daemon: Daemon) -> list[OllamaBackend]:
    return [b for b in daemon.catalog.backends.values() if isinstance(b, OllamaBackend)]


async def _host_for(daemon: Daemon, name: str, verb: Verb, *, existing: bool) -> tuple[OllamaBackend, str]:
    """The Ollama host and its own name for `name`: the host that lists it, the one its prefix
    names (`ollama-2/llama3.2`), else the first configured host (for a model not there yet)."""
    hosts = _hosts(daemon)
    await daemon.catalog.refresh()
    if not hosts:
        raise Refused(
            503, f"no Ollama backend is configured, so '{name}' cannot be {verb}: add a host under [ollama]"
        )
    prefix, _, rest = name.partition("/")
    by_name = {h.name: h for h in hosts}
    if rest and prefix in by_name:
        return by_name[prefix], rest
    model = daemon.catalog.lookup(name)
    if model is not None:
        backend = daemon.catalog.backends.get(model.backend)
        if isinstance(backend, OllamaBackend):
            return backend, model.native
    virtual = {m.id for m in daemon.catalog.virtual_models()}
    if name in virtual:
        raise Refused(
            400, f"'{name}' is one of Roundhouse's routing names; it cannot be {verb} through Ollama"
        )
    if (model is not None and not model.local) or (rest and prefix in PROVIDERS):
        raise Refused(400, f"'{name}' is a cloud model; it cannot be {verb} through Ollama")
    if model is not None or prefix == "local" or (rest and prefix in daemon.catalog.backends):
        owner = model.backend if model is not None else prefix
        raise Refused(
            400, f"'{name}' is a model of Roundhouse's '{owner}' backend; it cannot be {verb} through Ollama"
        )
    if existing and len(hosts) > 1:
        raise Refused(404, f"model '{name}' not found on any Ollama host")
    return hosts[0], name


async def _refresh(daemon: Daemon, verb: Verb, name: str, host: OllamaBackend) -> None:
    await daemon.catalog.refresh(force=True)
    daemon.events.publish(f"models.{verb}", {"model": name, "backend": host.name})


def _status_of(exc: BackendError) -> int:
    # Ollama answers 500 for a name its registry does not have: the caller's mistake.
    if "does not exist" in str(exc) or "file does not exist" in str(exc):
        return 404
    return exc.status if 400 <= exc.status < 500 or exc.status in (503, 504) else 502


async def _residency_note(daemon: Daemon, host: OllamaBackend, native: str) -> str:
    """What the residency manager can say before the pull: only a model already on the host
    (a re-pull, an update) has a known size; a new one's is known only once it is pulled."""
    model = daemon.catalog.lookup(f"{host.name}/{native}") or daemon.catalog.lookup(native)
    estimate_for = getattr(daemon.residency, "estimate_for", None)
    capacity_of = getattr(daemon.residency, "capacity_bytes", None)
    if model is None or not model.size_bytes or not callable(estimate_for) or not callable(capacity_of):
        return "not checked: the model's size is unknown before pulling"
    needed = (await estimate_for(model, host)).total_bytes
    capacity = int(capacity_of())
    fits = "fits" if capacity and needed <= capacity else "does not fit"
    return f"{fits}: needs {needed / 1024**3:.1f} GiB of {capacity / 1024**3:.1f} GiB"


def _line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data) + "\n").encode()


async def _progress(
    daemon: Daemon,
    upstream: AsyncIterator[dict[str, Any]],
    *,
    stream: bool,
    verb: Verb,
    name: str,
    host: OllamaBackend,
    headers: dict[str, str] | None = None,
) -> Response:
    """Ollama's NDJSON progress, or with `stream: false` one {"status": "success"} at the end.
    A failure before any progress gets its own HTTP status, as Ollama's does."""
    try:
        first, rest = await first_and_rest(upstream)
    except BackendError as exc:
        return _error(_status_of(exc), str(exc))
    refreshes = verb in ("pulled", "created")
    if not stream:
        try:
            last = first
            async for part in rest:
                last = part
        except BackendError as exc:
            return _error(_status_of(exc), str(exc))
        finally:
            await rest.aclose()  # type: ignore[attr-defined]
        if refreshes:
            await _refresh(daemon, verb, name, host)
        return JSONResponse(last or {"status": "success"}, headers=headers)

    async def lines() -> AsyncIterator[bytes]:
        try:
            part = first
            while part is not None:
                if part.get("status") == "success" and refreshes:
                    await _refresh(daemon, verb, name, host)  # listed before the client hears it
                yield _line(part)
                part = await anext(rest, None)
        except BackendError as exc:
            yield _line({"error": str(exc)})
        finally:
            await rest.aclose()  # type: ignore[attr-defined]

    return ClosingStreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)


@router.post("/pull", summary="Pull a model onto the Ollama host; NDJSON progress unless stream is false")
async def pull(request: Request, body: PullBody) -> Response:
    daemon = daemon_of(request)
    try:
        host, native = await _host_for(daemon, body.model, "pulled", existing=False)
    except Refused as why:
        return _error(why.status, why.message)
    note = await _residency_note(daemon, host, native)
    log.info("pulling %s onto %s (residency %s)", native, host.name, note)
    upstream = host.pull(native)
    return await _progress(
        daemon,
        upstream,
        stream=body.stream,
        verb="pulled",
        name=native,
        host=host,
        headers={RESIDENCY_HEADER: note},
    )


@router.post("/push", summary="Push a model from its Ollama host to a registry")
async def push(request: Request, body: PushBody) -> Response:
    daemon = daemon_of(request)
    try:
        host, native = await _host_for(daemon, body.model, "pushed", existing=True)
    except Refused as why:
        return _error(why.status, why.message)
    upstream = host.push(native, insecure=body.insecure)
    return await _progress(daemon, upstream, stream=body.stream, verb="pushed", name=native, host=host)


@router.post("/create", summary="Create a model on the Ollama host (from an existing one, files, adapters)")
async def create(request: Request, body: CreateBody) -> Response:
    daemon = daemon_of(request)
    try:
        host, native = await _host_for(daemon, body.model, "created", existing=False)
        base = None
        if body.from_:
            base_host, base = await _host_for(daemon, body.from_, "created", existing=True)
            if base_host is not host:
                raise Refused(400, f"'{body.from_}' is on {base_host.name}, not on {host.name}")
    except Refused as why:
        return _error(why.status, why.message)
    fields = body.model_dump(exclude_none=True, exclude={"model", "stream", "from_"})
    if base is not None:
        fields["from_"] = base
    upstream = host.create(native, fields)
    return await _progress(daemon, upstream, stream=body.stream, verb="created", name=native, host=host)


@router.post("/copy", summary="Copy a model on its Ollama host under a new name")
async def copy(request: Request, body: CopyBody) -> Response:
    daemon = daemon_of(request)
    try:
        host, source = await _host_for(daemon, body.source, "copied", existing=True)
        destination_host, destination = await _host_for(daemon, body.destination, "copied", existing=False)
        if destination_host is not host:
            raise Refused(400, f"'{body.source}' and '{body.destination}' are on different Ollama hosts")
    except Refused as why:
        return _error(why.status, why.message)
    try:
        await host.copy(source, destination)
    except BackendError as exc:
        return _error(_status_of(exc), str(exc))
    await _refresh(daemon, "copied", destination, host)
    return Response(status_code=200)


@router.delete("/delete", summary="Delete a model from its Ollama host")
async def delete(request: Request, body: DeleteBody) -> Response:
    daemon = daemon_of(request)
    try:
        host, native = await _host_for(daemon, body.model, "deleted", existing=True)
    except Refused as why:
        return _error(why.status, why.message)
    try:
        await host.delete(native)
    except BackendError as exc:
        return _error(_status_of(exc), str(exc))
    await _refresh(daemon, "deleted", native, host)
    return Response(status_code=200)
