"""What a backend cannot do with a request, said as a 400 rather than dropped without a word."""

from __future__ import annotations

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.models import ChatRequest, ModelInfo

IMAGE_PARTS = ("image_url", "input_image", "image")


def has_images(request: ChatRequest) -> bool:
    for message in request.messages:
        if message.get("images"):
            return True
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") in IMAGE_PARTS for part in content
        ):
            return True
    return False


def forced_tool(request: ChatRequest) -> str | None:
    """How `tool_choice` forces a tool call ("required" or a named function), if it does."""
    choice = request.tool_choice
    if choice == "required":
        return "'required'"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return f"the function '{name}'" if name else "a named function"
    return None


def refuse_unsupported(
    request: ChatRequest, model: ModelInfo, *, reads_images: bool, forces_tools: bool
) -> None:
    if not reads_images and has_images(request):
        raise BackendError(
            f"'messages': {model.id} reads text only and cannot take images", status=400, kind="unsupported"
        )
    forced = forced_tool(request) if not forces_tools else None
    if forced is not None:
        raise BackendError(
            f"'tool_choice': {model.id} cannot be made to call {forced}; send tool_choice 'auto' or 'none'",
            status=400,
            kind="unsupported",
        )
