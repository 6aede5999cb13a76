"""The memory component as the daemon holds it: the curated memory and its Open WebUI sync."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.memory.records import Insight, Memory
from roundhouse.daemon.memory.service import MemoryService
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.memory.sync import OpenWebUISync
from roundhouse.daemon.memory.synthesis import Synthesizer
from roundhouse.daemon.models import ChatRequest, Priority

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)
CURATOR_APP = "roundhouse-agent:curator"


class MemoryComponent:
    def __init__(self, service: MemoryService, sync: OpenWebUISync) -> None:
        self.service = service
        self.sync = sync
        self.settings = service.settings
        service.on_change(sync.schedule)

    async def submit(self, insights: list[Insight]) -> list[dict[str, Any]]:
        return await self.service.submit(insights)

    async def relevant(self, text: str, k: int, minimum: float) -> list[tuple[Memory, float]]:
        return await self.service.relevant(text, k, minimum)

    async def start(self) -> None:
        await self.service.start()
        await self.sync.start()

    async def stop(self) -> None:
        await self.sync.stop()
        await self.service.stop()


def _synthesizer(daemon: Daemon, settings: MemorySettings) -> Synthesizer | None:
    curator = settings.curator
    if curator.synthesis == "off":
        return None
    model, local = curator.synthesis_model, True
    if curator.synthesis == "cloud" and _cloud_allowed(daemon):
        model, local = curator.synthesis_cloud_model, False

    async def ask(system: str, user: str, model_name: str) -> str:
        request = ChatRequest(
            model=model_name,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=96,
            temperature=0.0,
            priority=Priority.BACKGROUND,
            app=CURATOR_APP,
            dialect="control",
        )
        exchange = await daemon.gateway.open(request)
        return "".join([chunk.content async for chunk in exchange.chunks])

    return Synthesizer(ask, model=model, max_chars=curator.max_memory_chars, local=local)


def _cloud_allowed(daemon: Daemon) -> bool:
    """Cloud phrasing only when routing is not local-only and no budget blocks the curator."""
    if getattr(daemon.router, "mode", "hybrid") == "local":
        return False
    check = getattr(daemon.spend, "budget_block", None)
    return not (callable(check) and check(CURATOR_APP))


def build_component(daemon: Daemon, settings: MemorySettings) -> MemoryComponent:
    service = MemoryService(
        store=daemon.store,
        embedder=daemon.embedder,
        settings=settings,
        events=daemon.events,
        synthesizer=_synthesizer(daemon, settings),
    )
    sync = OpenWebUISync(
        store=daemon.store,
        secrets=daemon.secrets,
        settings=settings.openwebui,
        approved=service.approved,
    )
    return MemoryComponent(service, sync)
