"""Keeps one daemon running: adopts one that already answers, or runs `roundhoused` as a child.

A crashed child is restarted with backoff, up to a cap within a time window; each restart is
announced, and past the cap the supervisor gives up and hands over the log tail.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from roundhouse.desktop import paths
from roundhouse.desktop.client import ControlClient, ControlError, DaemonUnreachable
from roundhouse.desktop.crash_report import ending
from roundhouse.desktop.daemon_address import DEFAULT_PORT
from roundhouse.desktop.restart_policy import RestartPolicy
from roundhouse.desktop.slots import bind

STOPPED, STARTING, RUNNING, FAILED = "stopped", "starting", "running", "failed"


def daemon_command(url: str, log_file: Path) -> list[str]:
    port = urlsplit(url).port or DEFAULT_PORT
    if getattr(sys, "frozen", False):
        # The packaged build ships the daemon as its own executable beside the tray's.
        name = "roundhoused.exe" if sys.platform == "win32" else "roundhoused"
        launcher = [str(Path(sys.executable).with_name(name))]
    else:
        launcher = [sys.executable, "-m", "roundhouse.daemon.cli"]
    return [
        *launcher,
        "serve",
        "--port",
        str(port),
        "--log-file",
        str(log_file),
    ]


def read_tail(path: Path, lines: int = 60) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def bind_finished(
    function: Callable[[QProcess, int, QProcess.ExitStatus], None], process: QProcess
) -> Callable[..., None]:
    def slot(code: int, status: QProcess.ExitStatus) -> None:
        function(process, code, status)

    return slot


class Supervisor(QObject):
    state_changed = Signal(str)
    # attempt number, seconds until the restart
    restarting = Signal(int, float)
    # how the daemon ended and the log tail, for the dialog shown past the cap
    gave_up = Signal(str, str)
    # a line for the user: "Started the daemon", "Adopted the daemon already running", ...
    announced = Signal(str)

    def __init__(
        self,
        client: ControlClient,
        *,
        policy: RestartPolicy | None = None,
        log_file: Path | None = None,
        ready_timeout_s: float = 90.0,
        stop_timeout_s: float = 10.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.policy = policy or RestartPolicy()
        self.log_file = log_file or paths.daemon_log_file()
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.state = STOPPED
        self.owned = False  # True when the daemon is our child, False when adopted
        # Whether an adopted daemon can be asked to stop (it has the shutdown endpoint).
        self.adopted_can_stop = False
        self.process: QProcess | None = None
        self._console: deque[str] = deque(maxlen=200)
        self._stopping = False
        self._restart_task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()

    # -- state --------------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    @property
    def pid(self) -> int | None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            return int(self.process.processId())
        return None

    def log_tail(self, lines: int = 60) -> str:
        tail = read_tail(self.log_file, lines)
        console = "\n".join(list(self._console)[-lines:])
        if console and console not in tail:
            return f"{tail}\n--- console ---\n{console}" if tail else console
        return tail

    # -- start ---------------------------------------------------------------------------------

    async def start(self) -> bool:
        """Adopt a running daemon or start one; True once it answers /health."""
        async with self._start_lock:
            if self.state == RUNNING and await self.client.healthy():
                return True
            self._cancel_restart()
            self._set_state(STARTING)
            if await self.client.healthy():
                self.owned = False
                self._stopping = False
                self._set_state(RUNNING)
                self.announced.emit(f"Using the daemon already running at {self.client.base_url}")
                return True
            return await self._spawn()

    async def _spawn(self) -> bool:
        self.owned = True
        self._stopping = False
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.setProcessEnvironment(QProcessEnvironment.systemEnvironment())
        process.readyReadStandardOutput.connect(bind(self._read_console, process))
        process.finished.connect(bind_finished(self._on_finished, process))
        command = daemon_command(self.client.base_url, self.log_file)
        self.process = process
        process.start(command[0], command[1:])
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process is not process or process.state() == QProcess.ProcessState.NotRunning:
                return False  # _on_finished deals with it
            if await self.client.healthy():
                self._set_state(RUNNING)
                self.announced.emit(f"Started the daemon at {self.client.base_url}")
                return True
            await asyncio.sleep(0.25)
        self.announced.emit("The daemon did not become ready in time; stopping it")
        await self._terminate(process)
        self._set_state(FAILED)
        self.gave_up.emit(f"The daemon did not answer within {self.ready_timeout_s:.0f} s.", self.log_tail())
        return False

    def _read_console(self, process: QProcess) -> None:
        text = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
        self._console.extend(line for line in text.splitlines() if line.strip())

    # -- crashes -------------------------------------------------------------------------------

    def _on_finished(self, process: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if process is not self.process:
            return
        self._read_console(process)
        self.process = None
        if self._stopping:
            self._set_state(STOPPED)
            return
        delay = self.policy.on_crash(time.monotonic())
        crashed = status == QProcess.ExitStatus.CrashExit
        how = "crashed" if crashed else f"exited with code {code}"
        if delay is None:
            self._set_state(FAILED)
            self.announced.emit(f"The daemon {how} again; gave up after {self.policy.max_restarts} restarts")
            self.gave_up.emit(ending(code, crashed), self.log_tail())
            return
        self._set_state(STARTING)
        attempt = self.policy.recent_crashes
        self.announced.emit(f"The daemon {how}; restarting in {delay:.0f} s (attempt {attempt})")
        self.restarting.emit(attempt, delay)
        self._restart_task = asyncio.ensure_future(self._restart_after(delay))

    async def _restart_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._restart_task = None
        await self.start()

    def _cancel_restart(self) -> None:
        if self._restart_task is not None and self._restart_task is not asyncio.current_task():
            self._restart_task.cancel()
        self._restart_task = None

    def lost_adopted(self) -> None:
        """The adopted daemon stopped answering: run our own instead."""
        if not self.owned and self.state == RUNNING and not self._stopping:
            self._set_state(STOPPED)
            self.announced.emit("The daemon stopped answering; starting a new one")
            self._restart_task = asyncio.ensure_future(self.start())

    # -- stop ----------------------------------------------------------------------------------

    @property
    def can_stop(self) -> bool:
        if self.owned:
            return self.process is not None
        return self.state == RUNNING and self.adopted_can_stop

    async def stop_daemon(self) -> None:
        """Stop the daemon whoever started it: our child as in `stop()`, an adopted one through
        the control API. (Quit uses `stop()`, which leaves an adopted daemon running.)"""
        if self.owned or self.process is not None:
            await self.stop()
        elif self.state == RUNNING and self.adopted_can_stop:
            await self._shut_down_adopted()

    async def _shut_down_adopted(self) -> None:
        self._cancel_restart()
        self._stopping = True
        try:
            await self.client.shutdown()
        except DaemonUnreachable:
            pass  # already gone
        except ControlError:
            self._stopping = False
            raise
        deadline = time.monotonic() + self.stop_timeout_s
        while await self.client.healthy():
            if time.monotonic() > deadline:
                self._stopping = False
                raise ControlError(0, "The daemon was asked to stop but is still answering")
            await asyncio.sleep(0.1)
        self._set_state(STOPPED)
        self.announced.emit(f"Stopped the daemon at {self.client.base_url}")

    async def stop(self) -> None:
        """Ask the child to exit (SIGTERM), then kill it after the timeout."""
        self._cancel_restart()
        process = self.process
        if process is None:
            if self.owned:
                self._set_state(STOPPED)
            return
        self._stopping = True
        await self._terminate(process)
        self._set_state(STOPPED)

    async def _terminate(self, process: QProcess) -> None:
        self._stopping = True
        process.terminate()
        if not await self._exited(process, self.stop_timeout_s):
            process.kill()
            await self._exited(process, 10.0)

    @staticmethod
    async def _exited(process: QProcess, seconds: float) -> bool:
        if process.state() == QProcess.ProcessState.NotRunning:
            return True
        finished = asyncio.Event()
        process.finished.connect(bind(finished.set))
        try:
            await asyncio.wait_for(finished.wait(), timeout=seconds)
        except TimeoutError:
            return process.state() == QProcess.ProcessState.NotRunning
        return True

    async def restart(self) -> bool:
        self.policy.reset()
        await self.stop_daemon()
        return await self.start()

    def stop_now(self) -> None:
        """Blocking stop for the last moment of Quit, when the event loop is going away."""
        self._cancel_restart()
        process = self.process
        if process is None:
            return
        self._stopping = True
        process.terminate()
        if not process.waitForFinished(int(self.stop_timeout_s * 1000)):
            process.kill()
            process.waitForFinished(5000)
