"""The Linux desktop entry, the systemd user unit, and the bundle's install/uninstall scripts."""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from roundhouse.desktop import autostart
from tests.packaging.conftest import PACKAGING

LINUX = PACKAGING / "linux"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell scripts")


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="needs desktop-file-utils")
def test_desktop_file_is_valid() -> None:
    result = subprocess.run(
        ["desktop-file-validate", str(LINUX / "roundhouse.desktop")], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_service_restarts_the_daemon_on_failure() -> None:
    unit = _unit(LINUX / "roundhouse-daemon.service")
    assert unit["Service"]["Restart"] == "on-failure"
    assert unit["Service"]["ExecStart"] == "%h/.local/bin/roundhoused serve"
    assert unit["Install"]["WantedBy"] == "default.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_service_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart is executable; %h is $HOME, so give it a home with the command.
    daemon = tmp_path / ".local" / "bin" / "roundhoused"
    daemon.parent.mkdir(parents=True)
    daemon.write_text("#!/bin/sh\n")
    daemon.chmod(0o755)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(LINUX / "roundhouse-daemon.service")],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "SYSTEMD_LOG_LEVEL": "notice"},
    )
    assert result.returncode == 0, result.stderr
    assert "roundhouse-daemon.service" not in result.stderr, result.stderr  # warnings name the unit


@pytest.fixture
def fake_bundle(tmp_path: Path, layout: ModuleType) -> Path:
    """An unpacked bundle's top level: the real install files beside two small executables."""
    bundle = tmp_path / "unpacked" / "roundhouse"
    (bundle / layout.CONTENTS_DIR).mkdir(parents=True)
    for name in layout.LINUX_EXTRAS:
        shutil.copy2(LINUX / name, bundle / name)
    for name in (layout.TRAY, layout.DAEMON):
        executable = bundle / name
        executable.write_text(f"#!/bin/sh\necho {name}\n")
        executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    return bundle


def _run(script: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ROUNDHOUSE_SYSTEMCTL": "true",
    }
    # A new session has no controlling terminal, as under CI: nothing can be asked.
    return subprocess.run(
        ["sh", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        start_new_session=True,
        check=False,
    )


@posix_only
def test_install_then_uninstall_leaves_no_trace_but_user_data(fake_bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    installed = _run(fake_bundle / "install.sh", home)
    assert installed.returncode == 0, installed.stderr

    app = home / ".local" / "opt" / "roundhouse"
    on_path = subprocess.run([home / ".local" / "bin" / "roundhoused"], capture_output=True, text=True)
    assert on_path.stdout == "roundhoused\n"
    menu_entry = home / ".local" / "share" / "applications" / "roundhouse.desktop"
    assert f"Exec={app}/roundhouse\n" in menu_entry.read_text()
    assert (home / ".config" / "systemd" / "user" / "roundhouse-daemon.service").is_file()

    # The user turns on "Start at login" in the tray, and has some data.
    autostart.XdgAutostart(config_home=home / ".config").enable([str(app / "roundhouse")])
    user_files = [
        home / ".config" / "roundhouse" / "config.toml",
        home / ".local" / "share" / "roundhouse" / "roundhouse.db",
        home / ".local" / "state" / "roundhouse" / "log" / "daemon.log",
    ]
    for path in user_files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")

    removed = _run(app / "uninstall.sh", home)
    assert removed.returncode == 0, removed.stderr
    assert not (home / ".config" / "autostart" / "roundhouse.desktop").exists()
    assert not app.exists()
    assert not menu_entry.exists()
    assert not (home / ".local" / "bin" / "roundhoused").exists()
    assert not (home / ".config" / "systemd" / "user" / "roundhouse-daemon.service").exists()
    # Nobody could be asked, so the user's data stays.
    assert all(path.exists() for path in user_files)
    assert "Kept your settings" in removed.stdout

    _run(fake_bundle / "install.sh", home)
    purged = _run(app / "uninstall.sh", home, "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not any(path.exists() for path in user_files)


@posix_only
def test_install_refuses_to_run_outside_a_bundle(tmp_path: Path) -> None:
    lone = tmp_path / "install.sh"
    shutil.copy2(LINUX / "install.sh", lone)
    result = _run(lone, tmp_path)
    assert result.returncode == 1
    assert "unpacked Roundhouse bundle" in result.stderr
