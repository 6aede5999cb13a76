"""The idle-time scheduler: agents run when the machine is idle and they are due, through the
daemon's own request path at background priority; every run is recorded, and a cloud cap holds."""

from __future__ import annotations

from roundhouse.daemon.agents.context import AgentContext
from roundhouse.daemon.agents.idle import MachineState
from roundhouse.daemon.agents.protocol import AgentResult
from roundhouse.daemon.agents.scheduler import AgentScheduler
from roundhouse.daemon.agents.settings import AgentConfig, AgentsSettings
from roundhouse.daemon.app import Daemon
from tests.standins.openai_server import OpenAIStandin

IDLE = MachineState(cpu_percent=2, gpu_percent=None, on_battery=False, seconds_since_interactive=None)
BUSY = MachineState(cpu_percent=97, gpu_percent=None, on_battery=False, seconds_since_interactive=None)


class Machine:
    """What the machine reports; the test decides."""

    def __init__(self, state: MachineState) -> None:
        self.state = state

    def read(self) -> MachineState:
        return self.state


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Noting:
    name = "noting"
    description = "asks the local model, notes a finding"
    default_every_s = 3600.0

    async def run(self, ctx: AgentContext) -> AgentResult:
        reply = await ctx.chat([{"role": "user", "content": "Say hi."}], max_tokens=4)
        ctx.insight(
            "qwen2.5:7b takes 6.1 s to load into memory.", importance=0.6, request_ids=[reply.request_id]
        )
        return AgentResult(summary="noted", data={"local": reply.local})


class Broken:
    name = "broken"
    description = "always fails"
    default_every_s = 3600.0

    async def run(self, ctx: AgentContext) -> AgentResult:
        raise RuntimeError("the disk is full")


class Cloudy:
    name = "cloudy"
    description = "asks a cloud model"
    default_every_s = 3600.0

    async def run(self, ctx: AgentContext) -> AgentResult:
        reply = await ctx.chat([{"role": "user", "content": "One word, please."}], model="cloudy/gpt-4o-mini")
        return AgentResult(summary=reply.text)


def scheduler(daemon: Daemon, machine: Machine, clock: Clock, **configs: AgentConfig) -> AgentScheduler:
    agents = {a.name: a for a in (Noting(), Broken(), Cloudy())}
    settings = AgentsSettings(agents=configs)
    return AgentScheduler(daemon, settings, agents, probe=machine, clock=clock)  # type: ignore[arg-type]


async def test_due_agents_run_in_idle_time_and_every_run_is_recorded(daemon: Daemon) -> None:
    machine, clock = Machine(BUSY), Clock()
    agents = scheduler(daemon, machine, clock, cloudy=AgentConfig(enabled=False))
    assert await agents.tick() == []
    assert "CPU busy" in agents.last_check["reason"]

    machine.state = IDLE
    runs = {r["agent"]: r for r in await agents.tick()}
    assert set(runs) == {"noting", "broken"}  # cloudy is disabled
    noting, broken = runs["noting"], runs["broken"]
    assert noting["status"] == "ok" and noting["insights"] == 1 and noting["cost_usd"] == 0
    assert noting["data"] == {"local": True}
    assert noting["decisions"][0]["action"] == "ADD"
    assert broken["status"] == "error" and "the disk is full" in broken["error"]

    # The agent's request went through the gateway like any other, under the agent's name.
    rows = list(daemon.store.db.query("SELECT * FROM requests WHERE id = ?", noting["request_ids"]))
    assert rows[0]["app"] == "roundhouse-agent:noting" and rows[0]["backend"] == "embedded"
    # Its finding waits in the review queue with its provenance.
    memory = daemon.memory.service.get(noting["decisions"][0]["memory_id"])  # type: ignore[attr-defined]
    assert memory["status"] == "pending"
    assert memory["insights"][0]["run_id"] == noting["id"] and memory["insights"][0]["agent"] == "noting"

    assert await agents.tick() == []  # nothing is due yet
    clock.now += 3601
    assert {r["agent"] for r in await agents.tick()} == {"noting", "broken"}
    assert len(agents.runs("noting")) == 2


async def test_pause_resume_enable_and_schedule(daemon: Daemon) -> None:
    machine, clock = Machine(IDLE), Clock()
    agents = scheduler(daemon, machine, clock, cloudy=AgentConfig(enabled=False))
    await agents.pause_all()
    assert await agents.tick() == [] and agents.last_check["reason"] == "paused"
    await agents.resume_all()
    await agents.pause("broken")
    assert [r["agent"] for r in await agents.tick()] == ["noting"]
    await agents.resume("broken")
    await agents.set_enabled("noting", False)
    await agents.set_schedule("broken", 7200)
    assert [r["agent"] for r in await agents.tick()] == ["broken"]
    clock.now += 3601
    assert await agents.tick() == []  # broken now runs every two hours, noting is off
    listed = {a["name"]: a for a in agents.list()}
    assert listed["broken"]["every_s"] == 7200 and not listed["noting"]["enabled"]
    assert listed["broken"]["last_result"]["status"] == "error"


async def test_the_cloud_cap_keeps_an_agent_local(daemon: Daemon, openai_standin: OpenAIStandin) -> None:
    clock = Clock()
    capped = scheduler(daemon, Machine(IDLE), clock, cloudy=AgentConfig(cloud_cap_usd=0.0))
    run = await capped.run("cloudy")
    assert run["status"] == "error" and "cloud cap" in run["error"]
    assert openai_standin.requests == []

    allowed = scheduler(daemon, Machine(IDLE), clock, cloudy=AgentConfig(cloud_cap_usd=5.0))
    run = await allowed.run("cloudy")
    assert run["status"] == "ok" and run["summary"] == "Cloud stand-in answer."
    assert len(openai_standin.requests) == 1
