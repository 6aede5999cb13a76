"""What an agent gets for one run: models through the daemon's own request path at background
priority, the ledger to read, and a place to put what it finds."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roundhouse.daemon.agents.protocol import AgentError
from roundhouse.daemon.agents.settings import AgentConfig
from roundhouse.daemon.memory.records import Insight, MemoryKind
from roundhouse.daemon.models import ChatRequest, Priority
from roundhouse.daemon.routing.route import Route

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

APP_PREFIX = "roundhouse-agent:"
DAY_S = 86400.0


class CloudCapReached(AgentError):
    """The agent's daily cloud budget is spent; it may go on with local models only."""


@dataclass(slots=True)
class Reply:
    text: str
    request_id: str
    model: str
    local: bool
    seconds: float
    ttft_s: float | None
    tokens_out: int


def app_name(agent: str) -> str:
    return APP_PREFIX + agent


class AgentContext:
    def __init__(
        self,
        *,
        daemon: Daemon,
        agent: str,
        run_id: str,
        config: AgentConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.daemon = daemon
        self.agent = agent
        self.run_id = run_id
        self.config = config
        self.clock = clock
        self.app = app_name(agent)
        self.insights: list[Insight] = []
        self.request_ids: list[str] = []
        self.notes: list[str] = []

    @property
    def options(self) -> dict[str, Any]:
        return self.config.options

    # findings ------------------------------------------------------------------------------
    def insight(
        self,
        text: str,
        *,
        kind: MemoryKind = "context",
        importance: float = 0.5,
        confidence: float = 0.7,
        actionability: float | None = None,
        tags: list[str] | None = None,
        evidence: dict[str, Any] | None = None,
        request_ids: list[str] | None = None,
        private: bool = False,
    ) -> Insight:
        found = Insight(
            text=text,
            agent=self.agent,
            run_id=self.run_id,
            kind=kind,
            importance=importance,
            confidence=confidence,
            actionability=actionability,
            tags=list(tags or []),
            evidence=dict(evidence or {}),
            request_ids=list(request_ids or []),
            private=private,
        )
        self.insights.append(found)
        return found

    def alert(self, kind: str, message: str, **data: Any) -> None:
        """Something the user should see now (the tray shows `agents.alert` events)."""
        self.daemon.events.publish(
            "agents.alert", {"agent": self.agent, "kind": kind, "message": message, **data}
        )

    # models --------------------------------------------------------------------------------
    async def route(self, request: ChatRequest) -> Route:
        """Where the router would send `request`, without recording a decision."""
        decide = self.daemon.router.decide
        if "dry_run" in inspect.signature(decide).parameters:
            return await decide(request, dry_run=True)  # type: ignore[call-arg]
        return await decide(request)

    def cloud_spent_today(self) -> float:
        since = self.clock() - DAY_S
        rows = self.daemon.store.db.query(
            "SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM requests WHERE app = ? AND ts >= ?",
            [self.app, since],
        )
        return float(next(iter(rows))["usd"])

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str = "local",
        max_tokens: int = 64,
        temperature: float = 0.0,
        seed: int | None = 0,
    ) -> Reply:
        """One answer through the gateway at background priority, timed."""
        request = ChatRequest(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            stream=True,
            priority=Priority.BACKGROUND,
            app=self.app,
            dialect="control",
        )
        route = await self.route(request)
        if not route.model.local:
            cap = self.config.cloud_cap_usd
            spent = self.cloud_spent_today()
            if spent >= cap:
                raise CloudCapReached(
                    f"{self.agent} has spent ${spent:.4f} of its ${cap:.2f} daily cloud cap; "
                    "local models only"
                )
        started = time.perf_counter()
        exchange = await self.daemon.gateway.open(request)
        self.request_ids.append(request.request_id)
        parts: list[str] = []
        ttft: float | None = None
        tokens_out = 0
        async for chunk in exchange.chunks:
            if chunk.content:
                if ttft is None:
                    ttft = time.perf_counter() - started
                parts.append(chunk.content)
            if chunk.usage is not None:
                tokens_out = chunk.usage.completion_tokens
        seconds = time.perf_counter() - started
        return Reply(
            text="".join(parts),
            request_id=request.request_id,
            model=exchange.route.model.id,
            local=exchange.route.model.local,
            seconds=seconds,
            ttft_s=ttft,
            tokens_out=tokens_out or len(parts),
        )

    # ledger --------------------------------------------------------------------------------
    async def ledger(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Read-only queries over the ledger (and other tables), after pending writes land."""
        await self.daemon.store.write(lambda db: None)
        return await self.daemon.store.read(lambda db: list(db.query(sql, params or [])))

    async def cost_of_run(self) -> float:
        if not self.request_ids:
            return 0.0
        marks = ", ".join("?" for _ in self.request_ids)
        rows = await self.ledger(
            f"SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM requests WHERE id IN ({marks})", self.request_ids
        )
        return float(rows[0]["usd"])
