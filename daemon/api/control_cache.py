"""Control API of the cache: statistics, clearing, and "good / bad answer" feedback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, model_validator

router = APIRouter(prefix="/control/v1/cache", tags=["cache"])


class Feedback(BaseModel):
    request_id: str | None = Field(default=None, max_length=200)
    entry_id: str | None = Field(default=None, max_length=200)
    good: bool

    @model_validator(mode="after")
    def _one_reference(self) -> Feedback:
        if not self.request_id and not self.entry_id:
            raise ValueError("give request_id or entry_id")
        return self


def _cache(request: Request) -> Any:
    cache = getattr(request.app.state.rh, "cache", None)
    if cache is None or not hasattr(cache, "stats"):
        raise HTTPException(status_code=404, detail="the response cache is not enabled")
    return cache


@router.get("")
async def stats(request: Request) -> dict[str, Any]:
    return _cache(request).stats()


@router.post("/clear")
async def clear(request: Request) -> dict[str, Any]:
    return {"cleared": await _cache(request).clear()}


@router.post("/feedback")
async def feedback(request: Request, body: Feedback) -> dict[str, Any]:
    ref = body.request_id or body.entry_id
    assert ref is not None
    result = await _cache(request).feedback(ref, body.good)
    if result is None:
        raise HTTPException(status_code=404, detail=f"no cache entry for '{ref}'")
    return result
