"""The "Start at login" toggle, for real on the files each OS reads at login."""

from __future__ import annotations

import configparser
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roundhouse.desktop import autostart
from tests.packaging.conftest import PACKAGING

ODD_COMMAND = ["/opt/Road House/bin/roundhouse", "--profile", 'say "hi" 100% $HOME \\ `x`']


def _desktop_fields(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return dict(parser.items("Desktop Entry"))


@pytest.fixture
def xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG autostart entry is this OS's")
def test_toggle_writes_reads_back_and_removes_the_xdg_entry(xdg_config_home: Path) -> None:
    entry_file = xdg_config_home / "autostart" / "roundhouse.desktop"
    assert not autostart.is_enabled()

    autostart.set_enabled(True)
    assert entry_file.is_file()
    assert autostart.is_enabled()
    assert autostart.for_platform().command() == autostart.launch_command()
    assert _desktop_fields(entry_file)["Exec"] == autostart.launch_command()[0]

    autostart.set_enabled(False)
    assert not entry_file.exists()
    assert not autostart.is_enabled()
    assert autostart.disable() is False


def test_launch_command_outside_a_bundle_is_the_installed_script() -> None:
    (script,) = autostart.launch_command()
    assert Path(script).parent == Path(sys.executable).parent
    assert Path(script).name in ("roundhouse", "roundhouse.exe")
    assert Path(script).exists(), "the `roundhouse` gui-script is not installed next to this Python"


def test_xdg_entry_round_trips_a_command_with_spaces_quotes_and_percent(tmp_path: Path) -> None:
    entry = autostart.XdgAutostart(config_home=tmp_path)
    entry.enable(ODD_COMMAND)
    assert entry.command() == ODD_COMMAND
    assert entry.is_enabled()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="needs desktop-file-utils")
def test_xdg_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    entry = autostart.XdgAutostart(config_home=tmp_path)
    entry.enable(ODD_COMMAND)
    result = subprocess.run(["desktop-file-validate", str(entry.path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_xdg_entry_switched_off_by_the_session_manager_reads_as_off(tmp_path: Path) -> None:
    entry = autostart.XdgAutostart(config_home=tmp_path)
    entry.enable(["/usr/bin/roundhouse"])
    # What GNOME's and KDE's startup settings do to an entry they switch off.
    entry.path.write_text(entry.path.read_text().replace("X-GNOME-Autostart-enabled=true", "Hidden=true"))
    assert not entry.is_enabled()
    entry.enable(["/usr/bin/roundhouse"])
    assert entry.is_enabled()


def test_xdg_entry_ignores_a_relative_xdg_config_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert autostart.XdgAutostart().path == Path.home() / ".config" / "autostart" / "roundhouse.desktop"


def test_xdg_entry_matches_the_packaged_desktop_file(tmp_path: Path) -> None:
    entry = autostart.XdgAutostart(config_home=tmp_path)
    entry.enable(["/usr/bin/roundhouse"])
    written = _desktop_fields(entry.path)
    packaged = _desktop_fields(PACKAGING / "linux" / "roundhouse.desktop")
    assert {k: v for k, v in written.items() if k != "Exec"} == {
        k: v for k, v in packaged.items() if k != "Exec"
    }


def test_launch_agent_writes_reads_back_and_removes(tmp_path: Path) -> None:
    agent = autostart.for_platform("darwin", launch_agents_dir=tmp_path / "LaunchAgents")
    assert not agent.is_enabled()
    agent.enable(ODD_COMMAND)
    plist = tmp_path / "LaunchAgents" / "org.roundhouse.tray.plist"
    assert plist.is_file()
    assert agent.is_enabled()
    assert agent.command() == ODD_COMMAND
    assert agent.disable() is True
    assert not plist.exists()
    assert not agent.is_enabled()
    assert agent.disable() is False


def test_launch_agent_matches_the_packaged_template(tmp_path: Path) -> None:
    template = plistlib.loads((PACKAGING / "macos" / "org.roundhouse.tray.plist").read_bytes())
    agent = autostart.MacLaunchAgent(agents_dir=tmp_path)
    agent.enable(template["ProgramArguments"])
    assert plistlib.loads(agent.path.read_bytes()) == template


@pytest.mark.skipif(sys.platform != "win32", reason="the Run key exists on Windows only")
def test_run_value_writes_reads_back_and_removes() -> None:
    key = r"Software\Roundhouse\Tests\Run"
    entry = autostart.WindowsRunKey(run_key=key, approved_key=r"Software\Roundhouse\Tests\Approved")
    try:
        entry.enable(ODD_COMMAND[:2])
        assert entry.is_enabled()
        assert entry.command() == ODD_COMMAND[:2]
        assert entry.disable() is True
        assert not entry.is_enabled()
    finally:
        entry.disable()


@pytest.mark.parametrize(
    "argv",
    [
        ["C:\\Users\\A B\\AppData\\Local\\Programs\\Roundhouse\\roundhouse.exe"],
        ["C:\\x\\roundhouse.exe", "--flag", 'quote " inside', "trailing\\"],
        ["plain", ""],
    ],
)
def test_windows_command_line_splits_back_into_its_arguments(argv: list[str]) -> None:
    assert autostart._split_windows_command(subprocess.list2cmdline(argv)) == argv
