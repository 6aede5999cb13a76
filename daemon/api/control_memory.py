"""Control API of the memory: the review queue, edits, export / import, Open WebUI users."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.memory.openwebui import OpenWebUIError
from roundhouse.daemon.memory.service import MemoryInputError
from roundhouse.daemon.memory.sync import UnknownUser
from roundhouse.daemon.secrets import NoSecureStore

router = APIRouter(prefix="/control/v1/memory", tags=["memory"])
Status = Literal["pending", "approved", "rejected", "superseded", "expired"]


class MemoryEdit(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=4000)
    kind: Literal["context", "user"] | None = None
    tags: list[str] | None = None
    # An Open WebUI user id to keep the memory to that user only; "" for every user.
    audience: str | None = Field(default=None, max_length=200)
    private: bool | None = None


class InsightIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    kind: Literal["context", "user"] = "context"
    importance: float = Field(default=0.6, ge=0, le=1)
    confidence: float = Field(default=0.8, ge=0, le=1)
    tags: list[str] = Field(default_factory=list)
    private: bool = False
    evidence: dict[str, Any] = Field(default_factory=dict)


class OpenWebUIUserIn(BaseModel):
    url: str = Field(min_length=8, max_length=500, pattern=r"^https?://")
    api_key: str = Field(
        min_length=8, max_length=4000, description="The user's own Open WebUI API key; kept in the OS keyring"
    )
    label: str | None = Field(default=None, max_length=100)


class ConfirmDeleteAll(BaseModel):
    confirm: Literal[True]


def _memory(request: Request) -> Any:
    component = getattr(request.app.state.rh, "memory", None)
    if component is None:
        raise ApiError(404, "the memory component is not enabled", code="memory_disabled")
    return component


def _not_found(memory_id: str) -> ApiError:
    return ApiError(404, f"no memory '{memory_id}'", code="not_found")


@router.get("", summary="Memories, newest first; ?status=pending is the review queue")
async def list_memories(
    request: Request, status: Status | None = None, limit: int = Query(500, ge=1, le=5000)
) -> dict[str, Any]:
    memory = _memory(request)
    return {"memories": memory.service.list(status, limit), "counts": memory.service.book.counts()}


@router.get("/export", summary="Every memory with its history, as JSON")
async def export(request: Request) -> dict[str, Any]:
    return _memory(request).service.export()  # type: ignore[no-any-return]


@router.post("/import", summary="Add memories from an export; existing ids and texts are skipped")
async def import_(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return await _memory(request).service.import_(body)  # type: ignore[no-any-return]
    except MemoryInputError as exc:
        raise ApiError(400, str(exc), code="invalid_import") from None


@router.post("/delete-all", summary='Delete every memory, insight and decision (body: {"confirm": true})')
async def delete_all(request: Request, body: ConfirmDeleteAll) -> dict[str, Any]:
    return {"deleted": await _memory(request).service.delete_all()}


@router.post("/insights", summary="Submit an insight to the curator (as the agents do)")
async def submit_insight(request: Request, body: InsightIn) -> dict[str, Any]:
    from roundhouse.daemon.memory.records import Insight

    insight = Insight(
        text=body.text.strip(),
        agent="user",
        kind=body.kind,
        importance=body.importance,
        confidence=body.confidence,
        tags=body.tags,
        private=body.private,
        evidence=body.evidence,
    )
    (decision,) = await _memory(request).submit([insight])
    return decision  # type: ignore[no-any-return]


@router.get("/insights", summary="Recent insights with their provenance and the curator's decision")
async def list_insights(
    request: Request, limit: int = Query(100, ge=1, le=1000), agent: str | None = None
) -> dict[str, Any]:
    return {"insights": _memory(request).service.book.insights(limit, agent)}


@router.get("/decisions", summary="The curator's decisions with scores and reasons")
async def list_decisions(
    request: Request, insight_id: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    return {"decisions": _memory(request).service.book.decisions(insight_id, limit)}


# Open WebUI users ------------------------------------------------------------------------


@router.get("/openwebui/users", summary="Open WebUI users whose memory Roundhouse keeps in step")
async def openwebui_users(request: Request) -> dict[str, Any]:
    sync = _memory(request).sync
    users = sync.users()
    for user in users:
        report = sync.last_reports.get(user["id"])
        user["last_report"] = report.as_dict() if report else None
    return {"users": users}


@router.post("/openwebui/users", summary="Add an Open WebUI user (URL and that user's API key)")
async def add_openwebui_user(request: Request, body: OpenWebUIUserIn) -> dict[str, Any]:
    component = _memory(request)
    try:
        user = await component.sync.add_user(body.url, body.api_key, body.label)
    except OpenWebUIError as exc:
        raise ApiError(400, f"cannot use this Open WebUI user: {exc}", code="openwebui_refused") from None
    except (httpx.InvalidURL, ValueError):
        # A URL that matches the pattern can still be one httpx cannot parse (bad host or port).
        raise ApiError(
            400, "cannot use this Open WebUI URL: it is not a valid URL", code="invalid_url"
        ) from None
    except NoSecureStore as exc:
        raise ApiError(409, str(exc), code="no_keyring") from None
    report = await component.sync.sync_user(user["id"])
    return {"user": user, "sync": report.as_dict()}


@router.delete(
    "/openwebui/users/{user_id}", summary="Stop syncing a user (their Roundhouse memories are removed)"
)
async def remove_openwebui_user(request: Request, user_id: str, keep_remote: bool = False) -> dict[str, Any]:
    try:
        report = await _memory(request).sync.remove_user(user_id, forget_remote=not keep_remote)
    except UnknownUser:
        raise ApiError(404, f"no Open WebUI user '{user_id}'", code="not_found") from None
    return {"removed": user_id, "sync": report.as_dict()}


@router.post("/openwebui/sync", summary="Sync every Open WebUI user now")
async def sync_now(request: Request) -> dict[str, Any]:
    reports = await _memory(request).sync.sync_all()
    return {"reports": {uid: r.as_dict() for uid, r in reports.items()}}


# one memory ------------------------------------------------------------------------------


@router.get("/{memory_id}", summary="One memory with its history and the insights behind it")
async def get_memory(request: Request, memory_id: str) -> dict[str, Any]:
    try:
        return _memory(request).service.get(memory_id)  # type: ignore[no-any-return]
    except KeyError:
        raise _not_found(memory_id) from None


async def _change(request: Request, memory_id: str, action: str, **kwargs: Any) -> dict[str, Any]:
    service = _memory(request).service
    try:
        return await getattr(service, action)(memory_id, **kwargs)  # type: ignore[no-any-return]
    except KeyError:
        raise _not_found(memory_id) from None
    except MemoryInputError as exc:
        raise ApiError(409 if "only" in str(exc) else 400, str(exc), code="invalid_change") from None


@router.post("/{memory_id}/approve", summary="Approve a memory: it is pushed to Open WebUI")
async def approve(request: Request, memory_id: str) -> dict[str, Any]:
    return await _change(request, memory_id, "approve")


@router.post("/{memory_id}/reject", summary="Reject a memory: it is not proposed again")
async def reject(request: Request, memory_id: str) -> dict[str, Any]:
    return await _change(request, memory_id, "reject")


@router.patch("/{memory_id}", summary="Edit a memory's text, kind, tags, audience or privacy")
async def edit(request: Request, memory_id: str, body: MemoryEdit) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    if not fields:
        raise ApiError(
            400, "nothing to change: give text, kind, tags, audience or private", code="empty_edit"
        )
    return await _change(request, memory_id, "edit", **fields)


@router.delete("/{memory_id}", summary="Delete a memory and its history")
async def delete(request: Request, memory_id: str) -> dict[str, Any]:
    service = _memory(request).service
    try:
        await service.delete(memory_id)
    except KeyError:
        raise _not_found(memory_id) from None
    return {"deleted": memory_id}
