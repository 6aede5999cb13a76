"""Settings of the background agents (the [agents] table of config.toml)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class IdleSettings(BaseModel):
    """When the machine counts as idle enough for background work."""

    cpu_max_percent: float = Field(default=35.0, ge=0, le=100)
    gpu_max_percent: float = Field(default=25.0, ge=0, le=100)
    # No interactive request for this long.
    quiet_s: float = Field(default=120.0, ge=0)
    run_on_battery: bool = False


class AgentConfig(BaseModel):
    enabled: bool = True
    # Seconds between runs; None keeps the agent's own default.
    every_s: float | None = Field(default=None, ge=60)
    # US dollars of cloud models this agent may spend per day (0: local models only).
    cloud_cap_usd: float = Field(default=0.0, ge=0)
    # Agent-specific options (e.g. {"questions": 20} for the performance analyst).
    options: dict[str, Any] = Field(default_factory=dict)


class AgentsSettings(BaseModel):
    enabled: bool = True
    # Seconds between looks at the machine (below a second only makes sense in tests).
    check_every_s: float = Field(default=60.0, gt=0)
    # No background work in the first minutes after the daemon starts (log-in is busy enough).
    start_delay_s: float = Field(default=300.0, ge=0)
    idle: IdleSettings = Field(default_factory=IdleSettings)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    # Runs kept per agent in the run history.
    keep_runs: int = Field(default=200, ge=1)

    def config(self, name: str) -> AgentConfig:
        return self.agents.get(name) or AgentConfig()
