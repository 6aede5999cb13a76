"""When background work may run: idle CPU and GPU, on mains power, no recent interactive traffic."""

from __future__ import annotations

import pytest

from roundhouse.daemon.agents.idle import MachineProbe, MachineState, judge
from roundhouse.daemon.agents.settings import IdleSettings

QUIET = MachineState(cpu_percent=5, gpu_percent=3, on_battery=False, seconds_since_interactive=900)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"on_battery": True}, "on battery"),
        ({"cpu_percent": 80}, "CPU busy"),
        ({"gpu_percent": 70}, "GPU busy"),
        ({"seconds_since_interactive": 10}, "interactive request"),
        ({"background_paused": True}, "interactive requests are running"),
    ],
)
def test_each_sign_of_use_keeps_agents_waiting(change: dict[str, object], reason: str) -> None:
    state = MachineState(**{**QUIET.as_dict(), **change})  # type: ignore[arg-type]
    idle, why = judge(state, IdleSettings())
    assert not idle and reason in why


def test_a_quiet_machine_is_idle_and_battery_can_be_allowed() -> None:
    assert judge(QUIET, IdleSettings()) == (True, "idle")
    no_gpu = MachineState(cpu_percent=5, gpu_percent=None, on_battery=True, seconds_since_interactive=None)
    assert judge(no_gpu, IdleSettings(run_on_battery=True)) == (True, "idle")


def test_the_probe_reads_this_machine() -> None:
    state = MachineProbe().read()
    assert 0 <= state.cpu_percent <= 100
    assert state.gpu_percent is None  # no residency component given, so no GPU reading
