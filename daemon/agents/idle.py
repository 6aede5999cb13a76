"""Whether the machine is idle enough for background work: CPU, GPU, battery, recent traffic.

Facts about the machine come from `MachineProbe` (psutil, and the residency component's GPU
reading when there is one); the judgement is a pure function of those facts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import psutil

from roundhouse.daemon.agents.settings import IdleSettings


@dataclass(slots=True)
class MachineState:
    cpu_percent: float
    gpu_percent: float | None  # None where no GPU reading exists
    on_battery: bool
    seconds_since_interactive: float | None  # None: no interactive request seen yet
    background_paused: bool = False  # the scheduling queue holds background work back

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(state: MachineState, settings: IdleSettings) -> tuple[bool, str]:
    if state.on_battery and not settings.run_on_battery:
        return False, "on battery"
    if state.background_paused:
        return False, "interactive requests are running"
    if state.seconds_since_interactive is not None and state.seconds_since_interactive < settings.quiet_s:
        return False, f"an interactive request {state.seconds_since_interactive:.0f} s ago"
    if state.cpu_percent > settings.cpu_max_percent:
        return False, f"CPU busy ({state.cpu_percent:.0f} %)"
    if state.gpu_percent is not None and state.gpu_percent > settings.gpu_max_percent:
        return False, f"GPU busy ({state.gpu_percent:.0f} %)"
    return True, "idle"


class BackgroundGate(Protocol):
    """What the probe reads from the scheduling queue (daemon/components.py `Scheduler`)."""

    @property
    def background_paused(self) -> bool: ...


class MachineProbe:
    """Reads the machine. `residency` is the daemon's residency component (its last GPU
    reading is used when present); `scheduler` says whether interactive work holds background
    work back; `last_interactive` returns the time of the last interactive request, if known."""

    def __init__(
        self,
        residency: Any = None,
        scheduler: BackgroundGate | None = None,
        last_interactive: Callable[[], float | None] | None = None,
    ) -> None:
        self._residency = residency
        self._scheduler = scheduler
        self._last_interactive = last_interactive
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def read(self) -> MachineState:
        cpu = float(psutil.cpu_percent(interval=None))
        battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
        on_battery = bool(battery is not None and not battery.power_plugged)
        last = self._last_interactive() if self._last_interactive is not None else None
        paused = self._scheduler.background_paused if self._scheduler is not None else False
        return MachineState(
            cpu_percent=cpu,
            gpu_percent=self._gpu_percent(),
            on_battery=on_battery,
            seconds_since_interactive=None if last is None else max(0.0, time.time() - last),
            background_paused=bool(paused),
        )

    def _gpu_percent(self) -> float | None:
        reading = getattr(self._residency, "reading", None)
        gpus = getattr(reading, "gpus", None) or []
        loads = [g.utilization_pct for g in gpus if getattr(g, "utilization_pct", None) is not None]
        return float(max(loads)) if loads else None
