"""What an agent is. Built-in agents and third-party ones register the same way: an entry
point in the `roundhouse.agents` group naming a factory `create(daemon) -> Agent`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from roundhouse.daemon.agents.context import AgentContext


@dataclass(slots=True)
class AgentResult:
    """What a run found, besides its insights: figures for the control API and other components."""

    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Agent(Protocol):
    name: str
    description: str
    # Seconds between runs unless the user sets another schedule.
    default_every_s: float

    async def run(self, ctx: AgentContext) -> AgentResult: ...


class AgentError(Exception):
    """An agent could not do its work; the message is recorded with the run."""
