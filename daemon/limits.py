"""How long an answer may be: never more than the model's context leaves after the prompt, nor
more than `[limits] max_output_tokens`, so that one careless request cannot hold a model for
minutes. A prompt that cannot fit the model at all is refused."""

from __future__ import annotations

from pydantic import BaseModel, Field

from roundhouse.daemon.models import ChatRequest, ModelInfo
from roundhouse.daemon.routing.fallback import CHARS_PER_TOKEN
from roundhouse.daemon.routing.route import RoutingError

CLAMP_HEADER = "x-roundhouse-max-tokens-clamped"


class LimitsSettings(BaseModel):
    # The most tokens one answer may have (None: only the model's context limits it).
    max_output_tokens: int | None = Field(default=None, ge=1)


def prompt_tokens(request: ChatRequest) -> int:
    """The prompt's size as routing estimates it (a cautious characters / 3.5, per message overhead)."""
    return int(len(request.text()) / CHARS_PER_TOKEN) + 4 * len(request.messages)


def clamp_output(request: ChatRequest, model: ModelInfo, cap: int | None) -> int | None:
    """Lower `request.max_tokens` to what `model` and `cap` allow; returns the new value when it
    was lowered from what the client asked. Raises a 400 when the prompt cannot fit at all."""
    window = model.context_length
    room: int | None = None
    if window > 0:
        prompt = prompt_tokens(request)
        if prompt >= window:
            raise RoutingError(
                f"the prompt (about {prompt} tokens) does not fit the context of {model.id}, "
                f"{window} tokens; shorten it or ask for a model with a larger context",
                status=400,
                kind="context_length_exceeded",
                param="messages" if request.kind == "chat" else "prompt",
            )
        room = window - prompt
    limit = min(room, cap) if room is not None and cap is not None else (room if cap is None else cap)
    if limit is None:
        return None
    asked = request.max_tokens
    if asked is None:
        if cap is not None:
            request.max_tokens = limit  # the server's own limit, not a change to what was asked
        return None
    if asked > limit:
        request.max_tokens = limit
        return limit
    return None
