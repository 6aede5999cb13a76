"""How the fleet watches its hosts."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FleetSettings(BaseModel):
    # Route each model to the best of its placements; false: every host is a backend of its own.
    enabled: bool = True
    # Seconds between looks at every host (loaded models, memory, queue, health).
    poll_s: float = Field(default=5.0, gt=0)
    # Seconds one look at a host may take before it counts as down.
    probe_timeout_s: float = Field(default=2.0, gt=0)
