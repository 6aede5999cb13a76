"""Start-up figures of the tray app: time until its icon shows in the tray, and its memory.

Starts Xvfb with an X11 tray host (trayer) and a daemon, then launches, side by side in one
run, the real tray app and a bare PySide6 tray icon (the floor any Qt tray app pays). The
time is taken from outside: from launching the process until the X server shows its icon
docked in trayer's panel. Each child reports its RSS three seconds after it saw its icon.
Prints the medians and the ratios to the bare icon.

    python bench/tray_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CHILD = r"""
import json, os, sys, time
started = time.perf_counter()
import psutil
real = sys.argv[1] == "tray"
if real:
    # The same steps, in the same order, as roundhouse.desktop.main.main().
    from PySide6.QtWidgets import QApplication
    from roundhouse.desktop.main import early_tray_icon
    app = QApplication([])
    icon = early_tray_icon()
    import asyncio, qasync
    from roundhouse.desktop.controller import Controller
    from roundhouse.desktop.prefs import Prefs
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    prefs = Prefs(daemon_url=sys.argv[2], supervise=False)
    controller = Controller(prefs, tray_wait_s=10, tray_icon=icon)
    controller.start()
    icon = controller.tray.icon
else:
    from PySide6.QtGui import QIcon, QPixmap
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon
    app = QApplication([])
    pixmap = QPixmap(22, 22)
    pixmap.fill()
    icon = QSystemTrayIcon(QIcon(pixmap))
    icon.show()
from PySide6.QtCore import QTimer
shown = {}
def check():
    if "s" not in shown and icon.isVisible() and not icon.geometry().isEmpty():
        shown["s"] = time.perf_counter() - started
        QTimer.singleShot(3000, finish)
def finish():
    rss_mb = psutil.Process().memory_info().rss / 2**20
    print(json.dumps({"shown_s": shown["s"], "rss_mb": rss_mb}), flush=True)
    os._exit(0)
timer = QTimer()
timer.timeout.connect(check)
timer.start(5)
if real:
    with loop:
        loop.run_forever()
else:
    app.exec()
"""


def start_desktop(tmp: Path) -> tuple[list[subprocess.Popen[bytes]], dict[str, str]]:
    for program in ("Xvfb", "trayer", "xwininfo"):
        if shutil.which(program) is None:
            sys.exit(f"{program} is needed (apt-get install xvfb trayer x11-utils)")
    number = next(n for n in range(150, 250) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"])
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        time.sleep(0.05)
    env = {**os.environ, "DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb", "ROUNDHOUSE_HOME": str(tmp)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the X11 tray, not a desktop's D-Bus one
    trayer = subprocess.Popen(["trayer", "--edge", "top", "--widthtype", "pixel", "--width", "200"], env=env)
    time.sleep(1.0)
    return [trayer, xvfb], env


def start_daemon(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    daemon = subprocess.Popen(
        [sys.executable, "-m", "roundhouse.daemon.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return daemon
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit("the daemon did not start")


def panel_id(env: dict[str, str]) -> str:
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
    for line in tree.splitlines():
        if '("panel" "trayer")' in line:
            return line.split()[0]
    sys.exit("trayer's panel window not found")


def embedded_icons(env: dict[str, str], panel: str) -> set[str]:
    """Windows of icons docked in trayer's panel (its children bigger than its 1x1 helpers)."""
    out = subprocess.run(
        ["xwininfo", "-children", "-id", panel], env=env, capture_output=True, text=True
    ).stdout
    return {
        line.split()[0] for line in out.splitlines() if line.strip().startswith("0x") and " 1x1+" not in line
    }


def measure(kind: str, url: str, env: dict[str, str], panel: str) -> dict[str, float]:
    """Seconds from launching the process until the X server shows its icon docked in the tray."""
    before = embedded_icons(env, panel)
    started = time.perf_counter()
    command = [sys.executable, "-c", CHILD, kind, url]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = None
    while shown is None and time.perf_counter() - started < 60:
        if embedded_icons(env, panel) - before:
            shown = time.perf_counter() - started
        else:
            time.sleep(0.005)
    out, err = child.communicate(timeout=120)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if shown is None or not lines:
        sys.exit(f"{kind} did not show its icon: {err[-2000:]}")
    return {"shown_s": shown, "rss_mb": float(json.loads(lines[-1])["rss_mb"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=18719)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        helpers, env = start_desktop(Path(tmp))
        daemon = start_daemon(env, args.port)
        url = f"http://127.0.0.1:{args.port}"
        panel = panel_id(env)
        try:
            results: dict[str, list[dict[str, float]]] = {"bare": [], "tray": []}
            for _ in range(args.runs):
                for kind in ("bare", "tray"):  # interleaved, so both see the same machine
                    results[kind].append(measure(kind, url, env, panel))
        finally:
            for process in (daemon, *helpers):
                process.terminate()
                process.wait(timeout=10)
    med = {
        kind: {k: statistics.median(r[k] for r in rows) for k in ("shown_s", "rss_mb")}
        for kind, rows in results.items()
    }
    print(f"runs: {args.runs} (medians; icon embedded by trayer under Xvfb)")
    for kind, label in (("bare", "bare PySide6 tray icon:"), ("tray", "Roundhouse tray app:   ")):
        shown_ms, rss = med[kind]["shown_s"] * 1000, med[kind]["rss_mb"]
        print(f"{label} icon shown after {shown_ms:.0f} ms, RSS {rss:.0f} MB")
    print(
        f"ratio tray / bare: time {med['tray']['shown_s'] / med['bare']['shown_s']:.2f}x, "
        f"memory {med['tray']['rss_mb'] / med['bare']['rss_mb']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
