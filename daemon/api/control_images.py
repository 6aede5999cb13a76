"""Control API of image generation: ComfyUI's state, recent images to rate, the dataset export."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from roundhouse.daemon.images.service import ImageService

router = APIRouter(prefix="/control/v1/images", tags=["images"])


class Rating(BaseModel):
    score: float = Field(ge=1, le=5, description="1 (bad) to 5 (best)")


def _service(request: Request) -> ImageService:
    images: ImageService | None = request.app.state.rh.images
    if images is None:
        raise HTTPException(status_code=503, detail="Roundhouse is still starting; try again in a moment")
    return images


@router.get("", summary="ComfyUI (reachable, VRAM, checkpoints), the mode, the dataset's size")
async def status(request: Request) -> dict[str, Any]:
    return await _service(request).status()


@router.get("/recent", summary="Recent images that are not private, newest first, to rate")
async def recent(
    request: Request,
    limit: int = Query(default=24, ge=1, le=500),
    unrated: bool = Query(default=False),
) -> dict[str, Any]:
    rows = _service(request).dataset.recent(limit, rated=False if unrated else None)
    return {"images": [{**r.public(), "url": f"/v1/images/files/{r.id}"} for r in rows]}


@router.post("/{image_id}/rating", summary="Rate an image 1-5; the image trainer learns from ratings")
async def rate(request: Request, image_id: str, body: Rating) -> dict[str, Any]:
    record = await _service(request).dataset.rate(image_id, body.score)
    if record is None:
        raise HTTPException(status_code=404, detail=f"no image '{image_id}' to rate")
    return {"image": record.public()}


@router.get(
    "/export",
    summary="The dataset as a zip: dataset.jsonl and the image files",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "the dataset"}},
)
async def export(request: Request) -> Response:
    data = await asyncio.to_thread(_service(request).dataset.export)  # reading every PNG: off the loop
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": 'attachment; filename="roundhouse-images.zip"'},
    )
