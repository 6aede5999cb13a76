"""What a look at one host found: the same shape whatever engine the host runs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class HostReading:
    """One probe's answer. `loaded` maps the engine's own model names to the bytes each holds
    (0 when the engine does not say). Memory figures are None where the engine does not report
    them; `waiting` is the engine's own queue (vLLM's waiting requests), not the daemon's."""

    ok: bool
    detail: str = ""
    loaded: dict[str, int] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    waiting: int = 0
    running: int = 0
    latency_ms: float | None = None

    @property
    def memory_free_bytes(self) -> int | None:
        if self.memory_total_bytes is None:
            return None
        return max(0, self.memory_total_bytes - (self.memory_used_bytes or 0))
