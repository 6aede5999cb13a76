"""Ollama's `options`: each documented parameter with its type and range, checked at the edge.

Ollama itself ignores keys it does not know (with a warning), so unknown keys pass through
as runner options; a known key with the wrong type is a 400 that names it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from roundhouse.daemon.api.errors import ApiError
from roundhouse.daemon.api.input_checks import INT64_MAX, INT64_MIN

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class OllamaOptions(BaseModel):
    """Ollama's Options (api/types.go): the predict options, then the runner options."""

    model_config = ConfigDict(extra="allow", strict=False)

    num_keep: Int64 | None = None
    seed: Int64 | None = None
    # -1: until the model stops, -2: fill the context; both mean "as many as fit" here.
    num_predict: Annotated[int, Field(ge=-2, le=INT64_MAX)] | None = None
    top_k: Count | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    min_p: Annotated[float, Field(ge=0, le=1)] | None = None
    typical_p: Annotated[float, Field(ge=0, le=1)] | None = None
    tfs_z: Number | None = None
    repeat_last_n: Annotated[int, Field(ge=-1, le=INT64_MAX)] | None = None
    temperature: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    repeat_penalty: Number | None = None
    presence_penalty: Number | None = None
    frequency_penalty: Number | None = None
    mirostat: Annotated[int, Field(ge=0, le=2)] | None = None
    mirostat_tau: Number | None = None
    mirostat_eta: Number | None = None
    penalize_newline: StrictBool | None = None
    stop: list[str] | None = None
    numa: StrictBool | None = None
    num_ctx: Annotated[int, Field(ge=1, le=INT64_MAX)] | None = None
    num_batch: Annotated[int, Field(ge=1, le=INT64_MAX)] | None = None
    num_gpu: Annotated[int, Field(ge=-1, le=INT64_MAX)] | None = None
    main_gpu: Count | None = None
    low_vram: StrictBool | None = None
    f16_kv: StrictBool | None = None
    logits_all: StrictBool | None = None
    vocab_only: StrictBool | None = None
    use_mmap: StrictBool | None = None
    use_mlock: StrictBool | None = None
    num_thread: Count | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def check_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The options as given (unknown keys kept), with every known one of the right type; an
    `ApiError` naming the first wrong field otherwise. Only the keys the client sent come back."""
    if not options:
        return {}
    try:
        parsed = OllamaOptions.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ApiError(
            400,
            f"invalid 'options.{where}': {first.get('msg', 'invalid value')}",
            code="invalid_request",
            param=f"options.{where}",
        ) from None
    return parsed.model_dump(include=set(options), exclude_none=False)
