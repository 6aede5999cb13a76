"""`roundhouse`: the tray app. Supervises the daemon and shows what it is doing."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import sys
import time
from typing import TYPE_CHECKING

from roundhouse.desktop import paths

if TYPE_CHECKING:
    from PySide6.QtWidgets import QSystemTrayIcon


def _setup_logging() -> None:
    paths.log_dir().mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        paths.log_dir() / "tray.log", maxBytes=1_000_000, backupCount=2
    )
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler, logging.StreamHandler(sys.stderr)],
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def early_tray_icon() -> QSystemTrayIcon | None:
    """Put the icon in the tray before the rest of the app is imported and built, so the user
    sees Roundhouse starting at once; the controller takes it over."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    from roundhouse.desktop.icons import state_icon

    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    icon = QSystemTrayIcon(state_icon("degraded"))
    icon.setToolTip("Roundhouse: starting…")
    icon.show()
    # Docking is a short exchange with the tray host: let it finish before the heavier imports.
    deadline = time.monotonic() + 0.5
    while icon.geometry().isEmpty() and time.monotonic() < deadline:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    return icon


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roundhouse", description="The Roundhouse tray app.")
    parser.add_argument(
        "--url",
        help="the daemon's address (default: the one in Settings, else the daemon's config and environment)",
    )
    parser.add_argument("--no-supervise", action="store_true", help="only watch a daemon; never start one")
    parser.add_argument("--tray-wait", type=float, default=30.0, help="seconds to wait for a system tray")
    return parser


_APP_MUTEX: object | None = None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging()
    if sys.platform == "win32":
        # Setup looks for this mutex (installer.iss AppMutex) to close a running tray before an upgrade;
        # the handle lives as long as the process.
        import ctypes

        global _APP_MUTEX
        _APP_MUTEX = ctypes.windll.kernel32.CreateMutexW(None, False, "RoundhouseTrayMutex")  # type: ignore[attr-defined]

    from PySide6.QtWidgets import QApplication

    from roundhouse.desktop.single_instance import SingleInstance

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Roundhouse")
    app.setQuitOnLastWindowClosed(False)

    instance = SingleInstance()
    if not instance.acquire():
        print("Roundhouse is already running; brought its window forward.", file=sys.stderr)
        return 0
    icon = early_tray_icon()

    import qasync

    from roundhouse.desktop.controller import Controller
    from roundhouse.desktop.prefs import Prefs

    prefs = Prefs.load()
    if args.url:
        prefs.daemon_url = args.url
    if args.no_supervise:
        prefs.supervise = False

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = Controller(prefs, tray_wait_s=args.tray_wait, tray_icon=icon)
    app.setWindowIcon(controller.icons("running"))
    instance.activated.connect(controller.show_status)
    # Last line of defence: a child daemon never outlives the tray app.
    app.aboutToQuit.connect(controller.supervisor.stop_now)
    controller.start()
    try:
        with loop:
            loop.run_forever()
    finally:
        instance.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
