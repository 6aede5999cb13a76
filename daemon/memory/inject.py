"""Memory for clients that have none: a few relevant approved memories, as a short system note."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.models import ChatRequest, content_text

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)
HEADER = "Things Roundhouse remembers that may help (from reviewed memory):"
MARKER = "\n[roundhouse-memory]\n"


def compose(texts: list[str], max_chars: int) -> str:
    """The note, whole lines only, within `max_chars`; empty when nothing fits."""
    lines: list[str] = []
    used = len(HEADER)
    for text in texts:
        line = "- " + " ".join(text.split())
        if used + 1 + len(line) > max_chars:
            continue
        lines.append(line)
        used += 1 + len(line)
    return "\n".join([HEADER, *lines]) if lines else ""


def apply_note(request: ChatRequest, note: str) -> None:
    """Add the note to the system message (creating one), once."""
    if not note or request.kind != "chat":
        return
    block = MARKER + note
    for message in request.messages:
        if message.get("role") == "system":
            existing = content_text(message.get("content"))
            if MARKER in existing:
                return
            message["content"] = existing + "\n" + block
            return
    request.messages.insert(0, {"role": "system", "content": block.lstrip("\n")})


async def inject(daemon: Daemon, request: ChatRequest) -> None:
    """For the apps named in `[memory.inject] apps`, put the top few relevant approved memories
    into the request, within the character budget. Does nothing for other apps."""
    service: Any = getattr(daemon, "memory", None)
    if service is None or not hasattr(service, "relevant"):
        return
    settings = service.settings.inject
    if request.app not in settings.apps or request.kind != "chat":
        return
    query = request.last_user_text()
    try:
        found = await service.relevant(query, settings.top_k, settings.min_similarity)
    except Exception as exc:  # memory is a nicety; the request goes on without it
        log.warning("memory: injection skipped (%s)", type(exc).__name__)
        return
    apply_note(request, compose([m.text for m, _ in found], settings.max_chars))
