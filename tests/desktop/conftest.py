"""A desktop for the tray tests: Xvfb, an X11 tray host (trayer), a private D-Bus with an
unlocked GNOME Keyring, and a real daemon on the embedded model, all started here.

Outside CI a missing program skips these tests with a message; with CI=true it fails them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.standins.runner import free_port

T = TypeVar("T")
PROGRAMS = ("Xvfb", "trayer", "dbus-daemon", "gnome-keyring-daemon")


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide {what} for the tray tests")
    pytest.skip(f"{what} is not installed here; see .ci/run for the packages")


def _free_display() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Desktop:
    display: str
    dbus_address: str
    home: Path


@pytest.fixture(scope="session")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    for program in PROGRAMS:
        if shutil.which(program) is None:
            _missing(program)
    home = tmp_path_factory.mktemp("desktop-home")
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    started: list[subprocess.Popen[Any]] = []
    saved = {
        k: os.environ.get(k)
        for k in ("DISPLAY", "QT_QPA_PLATFORM", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")
    }
    try:
        number = _free_display()
        display = f":{number}"
        xvfb = subprocess.Popen(
            ["Xvfb", display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(xvfb)
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if xvfb.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Xvfb did not start")
            time.sleep(0.05)

        dbus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1", "--nosyslog"],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(dbus)
        assert dbus.stdout is not None
        address = dbus.stdout.readline().strip()

        env = {
            **os.environ,
            "DISPLAY": display,
            "DBUS_SESSION_BUS_ADDRESS": address,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_RUNTIME_DIR": str(runtime),
        }
        keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        started.append(keyring)
        assert keyring.stdin is not None
        keyring.stdin.write(b"pw")
        keyring.stdin.close()
        _wait_for_secret_service(address)

        trayer = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "pixel",
                "--width",
                "200",
                "--height",
                "32",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        started.append(trayer)
        os.environ.update(
            {
                "DISPLAY": display,
                "QT_QPA_PLATFORM": "xcb",
                "DBUS_SESSION_BUS_ADDRESS": address,
                "XDG_RUNTIME_DIR": str(runtime),
            }
        )
        yield Desktop(display=display, dbus_address=address, home=home)
    finally:
        for process in reversed(started):
            _stop(process)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_for_secret_service(address: str) -> None:
    probe = (
        "import secretstorage, sys\n"
        "bus = secretstorage.dbus_init()\n"
        "sys.exit(0 if secretstorage.get_default_collection(bus) else 1)\n"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        if subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("GNOME Keyring's Secret Service did not come up")


@pytest.fixture(scope="session")
def qapp_cls(desktop: Desktop) -> type[Any]:
    """pytest-qt makes its QApplication after this: so Qt sees our X display and tray host."""
    from PySide6.QtWidgets import QApplication

    return QApplication


class DaemonProcess:
    """`roundhoused serve` as a child process with its own ROUNDHOUSE_HOME."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ROUNDHOUSE_HOME": str(home), **(extra_env or {})}
        self.process: subprocess.Popen[Any] | None = None

    def start(self) -> DaemonProcess:
        log = self.home / "daemon-console.log"
        self.home.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "roundhouse.daemon.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the daemon exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the daemon did not become ready")

    def status(self, path: str) -> int:
        return httpx.get(f"{self.url}{path}", timeout=30).status_code

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.url}{path}", timeout=30).json()

    def post(self, path: str, body: Any) -> Any:
        return httpx.post(f"{self.url}{path}", json=body, timeout=120).json()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


@pytest.fixture(scope="session")
def daemon(desktop: Desktop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One real daemon on the embedded model for the window tests, using the test keyring."""
    # CPU-only test machines: a model "spills" to system RAM by definition; allow it.
    running = DaemonProcess(
        tmp_path_factory.mktemp("daemon-home"), {"ROUNDHOUSE_RESIDENCY__ALLOW_CPU_SPILL": "true"}
    ).start()
    yield running
    running.stop()


@pytest.fixture
def tray_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tray app's own ROUNDHOUSE_HOME: its settings, lock file and logs."""
    home = tmp_path / "tray-home"
    monkeypatch.setenv("ROUNDHOUSE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def qasync_loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """One qasync loop on pytest-qt's QApplication for the whole session."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)
    yield loop
    loop.stop()
    loop.close()


@pytest.fixture
def aloop(qapp: Any, qasync_loop: asyncio.AbstractEventLoop) -> Iterator[asyncio.AbstractEventLoop]:
    """The qasync loop marked running for one test: Qt events and asyncio then run together
    while qtbot waits, as in the real app. Unmarked afterwards, so that other tests in the same
    run can use their own loops."""
    asyncio.events._set_running_loop(qasync_loop)
    asyncio.set_event_loop(qasync_loop)
    try:
        yield qasync_loop
    finally:
        for task in asyncio.all_tasks(qasync_loop):
            task.cancel()
        qapp.processEvents()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


def run(qtbot: Any, coro: Any, timeout_ms: int = 60_000) -> Any:
    """Await `coro` on the qasync loop while Qt keeps processing events."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout_ms)
    return task.result()


@pytest.fixture
def make_controller(qtbot: Any, aloop: Any, tray_home: Path) -> Iterator[Callable[..., Any]]:
    from roundhouse.desktop.controller import Controller
    from roundhouse.desktop.prefs import Prefs

    made: list[Any] = []

    def make(url: str, **prefs: Any) -> Any:
        options = {"poll_interval_s": 0.5, "supervise": False, **prefs}
        controller = Controller(Prefs(daemon_url=url, **options), tray_wait_s=5)
        controller.start()
        made.append(controller)
        return controller

    yield make
    for controller in made:
        for window in controller.windows.values():
            window.close()
            window.deleteLater()
        run(qtbot, controller.shutdown())


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of the menu and every window land here."""
    return tmp_path_factory.getbasetemp() / "artifacts"


def save_screenshot(widget: Any, artifacts: Path, name: str) -> Path:
    """Grab `widget`, save it as PNG, and check that it shows something (not one flat colour)."""
    artifacts.mkdir(parents=True, exist_ok=True)
    image = widget.grab().toImage()
    path = artifacts / f"{name}.png"
    assert image.save(str(path)), f"could not save {path}"
    assert image.width() > 10 and image.height() > 10, f"{name}: empty screenshot"
    colours = set()
    step_x, step_y = max(image.width() // 40, 1), max(image.height() // 40, 1)
    for x in range(0, image.width(), step_x):
        for y in range(0, image.height(), step_y):
            colours.add(image.pixel(x, y))
    assert len(colours) > 3, f"{name}: the screenshot is blank ({len(colours)} colours)"
    return path
