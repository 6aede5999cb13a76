"""Runs agents in idle time, one at a time, each on its own schedule, and records every run."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlite_utils

from roundhouse.daemon.agents.context import APP_PREFIX, AgentContext
from roundhouse.daemon.agents.idle import MachineProbe, MachineState, judge
from roundhouse.daemon.agents.protocol import Agent, AgentResult
from roundhouse.daemon.agents.runs import COMPONENT, MIGRATIONS, run_from_row
from roundhouse.daemon.agents.settings import AgentsSettings

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)
ALL = "*"  # the agent_state row that pauses every agent at once


class UnknownAgent(KeyError):
    pass


class AgentScheduler:
    def __init__(
        self,
        daemon: Daemon,
        settings: AgentsSettings,
        agents: dict[str, Agent],
        *,
        probe: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.daemon = daemon
        self.settings = settings
        self.agents = agents
        self.clock = clock
        self.probe = probe or MachineProbe(
            residency=daemon.residency, scheduler=daemon.scheduler, last_interactive=self._last_interactive
        )
        self.store = daemon.store
        self.store.migrate(COMPONENT, MIGRATIONS)
        self._run_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.running: str | None = None
        self.last_check: dict[str, Any] = {}

    # state ---------------------------------------------------------------------------------
    def _state(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.store.db.query("SELECT * FROM agent_state")}

    def _agent(self, name: str) -> Agent:
        agent = self.agents.get(name)
        if agent is None:
            raise UnknownAgent(name)
        return agent

    def every_s(self, name: str, state: dict[str, Any] | None = None) -> float:
        row = (state if state is not None else self._state()).get(name) or {}
        if row.get("every_s"):
            return float(row["every_s"])
        configured = self.settings.config(name).every_s
        return float(configured or self._agent(name).default_every_s)

    def enabled(self, name: str, state: dict[str, Any] | None = None) -> bool:
        row = (state if state is not None else self._state()).get(name) or {}
        if row.get("enabled") is not None:
            return bool(row["enabled"])
        return self.settings.config(name).enabled

    def paused(self, name: str, state: dict[str, Any] | None = None) -> bool:
        state = state if state is not None else self._state()
        return bool((state.get(ALL) or {}).get("paused")) or bool((state.get(name) or {}).get("paused"))

    def all_paused(self) -> bool:
        return bool((self._state().get(ALL) or {}).get("paused"))

    def due(self, name: str, now: float, state: dict[str, Any] | None = None) -> bool:
        state = state if state is not None else self._state()
        last = (state.get(name) or {}).get("last_run")
        return last is None or now - float(last) >= self.every_s(name, state)

    async def _set(self, name: str, **values: Any) -> None:
        if name != ALL:
            self._agent(name)

        def save(db: sqlite_utils.Database) -> None:
            db["agent_state"].upsert({"name": name, **values}, pk="name", alter=False)

        await self.store.write(save)
        self.daemon.events.publish("agents.state", {"agent": name, **values})

    async def set_enabled(self, name: str, enabled: bool) -> None:
        await self._set(name, enabled=int(enabled))

    async def set_schedule(self, name: str, every_s: float) -> None:
        await self._set(name, every_s=float(every_s))

    async def pause(self, name: str) -> None:
        await self._set(name, paused=1)

    async def resume(self, name: str) -> None:
        await self._set(name, paused=0)

    async def pause_all(self) -> None:
        await self._set(ALL, paused=1)

    async def resume_all(self) -> None:
        await self._set(ALL, paused=0)

    # reading -------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        state = self._state()
        now = self.clock()
        rows = []
        for name, agent in sorted(self.agents.items()):
            last = (state.get(name) or {}).get("last_run")
            every = self.every_s(name, state)
            rows.append(
                {
                    "name": name,
                    "description": agent.description,
                    "enabled": self.enabled(name, state),
                    "paused": self.paused(name, state),
                    "every_s": every,
                    "cloud_cap_usd": self.settings.config(name).cloud_cap_usd,
                    "last_run": last,
                    "next_due": now if last is None else float(last) + every,
                    "running": self.running == name,
                    "last_result": next(iter(self.runs(name, 1)), None),
                }
            )
        return rows

    def runs(self, name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        where, params = ("WHERE agent = ?", [name]) if name else ("", [])
        rows = self.store.db.query(
            f"SELECT * FROM agent_runs {where} ORDER BY started DESC LIMIT ?", [*params, limit]
        )
        return [run_from_row(r) for r in rows]

    def _last_interactive(self) -> float | None:
        rows = list(
            self.store.db.query(
                "SELECT MAX(ts) AS ts FROM requests WHERE app NOT LIKE ?", [APP_PREFIX.replace("%", "") + "%"]
            )
        )
        return rows[0]["ts"] if rows and rows[0]["ts"] is not None else None

    # running -------------------------------------------------------------------------------
    async def tick(self) -> list[dict[str, Any]]:
        """One look at the machine; if it is idle, run every agent that is due."""
        if not self.settings.enabled or self.all_paused():
            self.last_check = {"idle": False, "reason": "paused", "ts": self.clock()}
            return []
        state_of_machine: MachineState = await asyncio.to_thread(self.probe.read)
        idle, reason = judge(state_of_machine, self.settings.idle)
        self.last_check = {
            "idle": idle,
            "reason": reason,
            "machine": state_of_machine.as_dict(),
            "ts": self.clock(),
        }
        if not idle:
            return []
        done = []
        for name in sorted(self.agents):
            state = self._state()
            if (
                not self.enabled(name, state)
                or self.paused(name, state)
                or not self.due(name, self.clock(), state)
            ):
                continue
            done.append(await self.run(name, trigger="schedule"))
            # Traffic may have come back while the agent ran. The CPU and GPU load since the
            # last look is the agent's own work, so only the signs of traffic count here.
            after = await asyncio.to_thread(self.probe.read)
            after = dataclasses.replace(after, cpu_percent=0.0, gpu_percent=None)
            if not judge(after, self.settings.idle)[0]:
                break
        return done

    async def run(self, name: str, trigger: str = "manual") -> dict[str, Any]:
        """Run one agent now and return its run record (a manual run ignores idle and pauses)."""
        agent = self._agent(name)
        async with self._run_lock:
            return await self._run(agent, trigger)

    async def _run(self, agent: Agent, trigger: str) -> dict[str, Any]:
        run_id = "run-" + uuid.uuid4().hex[:16]
        started = self.clock()
        ctx = AgentContext(
            daemon=self.daemon, agent=agent.name, run_id=run_id, config=self.settings.config(agent.name)
        )
        await self.store.write(
            lambda db: db["agent_runs"].insert(
                {
                    "id": run_id,
                    "agent": agent.name,
                    "trigger": trigger,
                    "started": started,
                    "status": "running",
                }
            )
        )
        self.running = agent.name
        self.daemon.events.publish("agents.run_started", {"agent": agent.name, "run_id": run_id})
        status, error = "ok", None
        result = AgentResult()
        try:
            result = await agent.run(ctx)
        except asyncio.CancelledError:
            status, error = "cancelled", "the daemon stopped during the run"
            raise
        except Exception as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("agents: %s failed: %s", agent.name, error)
        finally:
            self.running = None
            decisions = await self._hand_over(ctx) if status != "cancelled" else []
            cost = await ctx.cost_of_run()
            row = {
                "ended": self.clock(),
                "status": status,
                "cost_usd": cost,
                "insights": len(ctx.insights),
                "decisions": json.dumps(decisions),
                "request_ids": json.dumps(ctx.request_ids),
                "summary": result.summary,
                "data": json.dumps(result.data, default=str),
                "error": error,
            }
            keep = self.settings.keep_runs

            def finish(db: sqlite_utils.Database) -> None:
                db["agent_runs"].update(run_id, row)
                db["agent_state"].upsert({"name": agent.name, "last_run": started}, pk="name")
                db.execute(
                    "DELETE FROM agent_runs WHERE agent = ? AND id NOT IN "
                    "(SELECT id FROM agent_runs WHERE agent = ? ORDER BY started DESC LIMIT ?)",
                    [agent.name, agent.name, keep],
                )

            await self.store.write(finish)
            self.daemon.events.publish(
                "agents.run",
                {
                    "agent": agent.name,
                    "run_id": run_id,
                    "status": status,
                    "insights": len(ctx.insights),
                    "cost_usd": cost,
                },
            )
        record = next(iter(self.runs(agent.name, 1)))
        return record

    async def _hand_over(self, ctx: AgentContext) -> list[dict[str, Any]]:
        """The run's insights go to the memory curator (kept with the run when there is none)."""
        memory = getattr(self.daemon, "memory", None)
        if not ctx.insights:
            return []
        if memory is None:
            return [{"insight": i.text, "action": None} for i in ctx.insights]
        try:
            results = await memory.submit(ctx.insights)
        except Exception as exc:
            log.warning("agents: the curator could not take %s's insights: %s", ctx.agent, exc)
            return [{"insight": i.text, "action": None, "error": str(exc)} for i in ctx.insights]
        return [
            {"insight_id": r["insight_id"], "action": r["action"], "memory_id": r["memory_id"]}
            for r in results
        ]

    # life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None and self.settings.enabled:
            self._task = asyncio.create_task(self._loop(), name="agents-scheduler")

    async def _loop(self) -> None:
        await asyncio.sleep(self.settings.start_delay_s)
        while True:
            await asyncio.sleep(self.settings.check_every_s)
            try:
                await self.tick()
            except Exception:
                log.exception("agents: scheduler tick failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
