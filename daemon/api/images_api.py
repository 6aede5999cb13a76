"""POST /v1/images/generations in OpenAI's shape (Open WebUI's "Open AI" image engine speaks it),
and GET /v1/images/files/{id} for the `url` answers."""

from __future__ import annotations

import base64
import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from roundhouse.daemon.api.common import daemon_of
from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.images.service import ImageJob, ImageRefused, ImageService
from roundhouse.daemon.images.workflows import WorkflowError

router = APIRouter(tags=["images"])


class ImageGenerationRequest(BaseModel):
    """OpenAI's Images API body, and three of ComfyUI's own knobs (`negative_prompt`, `seed`,
    `steps`) for clients that know them. Fields OpenAI defines that change nothing here
    (`quality`, `style`, `background`, `moderation`, `output_format`) are accepted."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1, max_length=32_000)
    model: str | None = Field(default=None, max_length=300)
    n: int = Field(default=1, ge=1, le=10)
    size: str | None = Field(default=None, max_length=20)
    response_format: Literal["b64_json", "url"] = "b64_json"
    user: str | None = Field(default=None, max_length=300)
    quality: str | None = Field(default=None, max_length=20)
    style: str | None = Field(default=None, max_length=20)
    negative_prompt: str | None = Field(default=None, max_length=32_000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    steps: int | None = Field(default=None, ge=1, le=200)


def _service(request: Request) -> ImageService:
    images = daemon_of(request).images
    if images is None or not images.settings.enabled:
        raise ApiError(404, "image generation is off ([images] enabled = false)", code="not_found")
    return images


@router.post("/v1/images/generations", summary="Draw images: ComfyUI here, a cloud model when allowed")
async def generations(request: Request, body: ImageGenerationRequest) -> JSONResponse:
    images = _service(request)
    if body.size is not None and body.size.strip().lower() == "auto":
        body.size = None
    job = ImageJob(
        prompt=body.prompt,
        app=request.scope.get("state", {}).get("app_name", "unknown"),
        model=body.model,
        n=body.n,
        size=body.size,
        negative_prompt=body.negative_prompt,
        seed=body.seed,
        steps=body.steps,
    )
    try:
        result = await images.generate(job)
    except ImageRefused as exc:
        raise ApiError(exc.status, str(exc), code=exc.code, param=exc.param) from None
    except WorkflowError as exc:
        raise ApiError(400, str(exc), code="invalid_request") from None
    except BackendError as exc:
        status = exc.status if 400 <= exc.status < 600 else 502
        raise ApiError(status, str(exc), code=exc.kind) from None
    data: list[dict[str, Any]] = []
    for record, png in zip(result.images, result.data, strict=True):
        item: dict[str, Any] = (
            {"url": str(request.base_url).rstrip("/") + f"/v1/images/files/{record.id}"}
            if body.response_format == "url"
            else {"b64_json": base64.b64encode(png).decode()}
        )
        if result.revised_prompt:
            item["revised_prompt"] = result.revised_prompt
        data.append(item)
    reasons = "; ".join(result.route.reasons)
    headers = {
        "x-roundhouse-request-id": job.request_id,
        "x-roundhouse-route-model": result.route.model,
        "x-roundhouse-route-backend": result.route.where,
        "x-roundhouse-route-reasons": reasons.encode("ascii", "replace").decode()[:1000],
    }
    return JSONResponse({"created": int(time.time()), "data": data}, headers=headers)


@router.get(
    "/v1/images/files/{image_id}",
    summary="An image drawn here, for answers given as a URL",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the PNG"}},
)
async def image_file(request: Request, image_id: str) -> Response:
    images = _service(request)
    record = images.dataset.get(image_id)
    path = images.dataset.path(record) if record is not None else None
    if path is None or not path.is_file():
        raise ApiError(404, f"no image '{image_id}'", code="not_found")
    return Response(
        path.read_bytes(), media_type="image/png", headers={"cache-control": "private, max-age=86400"}
    )
