"""Start at login: off unless the user turns it on, and removed without a trace when turned off.

- Windows: the `Roundhouse` value under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run
  (the same value the installer's "Start Roundhouse when I sign in" task writes).
- Linux and other XDG desktops: $XDG_CONFIG_HOME/autostart/roundhouse.desktop.
- macOS: ~/Library/LaunchAgents/org.roundhouse.tray.plist, read by launchd at the next login.

Every entry accepts its location as an argument so tests and tools can point it elsewhere.
"""

from __future__ import annotations

import configparser
import io
import os
import plistlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
# Where Task Manager's Startup tab records that the user switched an entry off.
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
RUN_VALUE = "Roundhouse"
DESKTOP_FILE = "roundhouse.desktop"
LAUNCH_AGENT_LABEL = "org.roundhouse.tray"

# The fields of packaging/linux/roundhouse.desktop, less Exec (tests keep the two in step).
DESKTOP_ENTRY: dict[str, str] = {
    "Type": "Application",
    "Version": "1.0",
    "Name": "Roundhouse",
    "GenericName": "Local model endpoint",
    "Comment": "One local endpoint for local and cloud models",
    "Icon": "roundhouse",
    "Terminal": "false",
    "Categories": "Utility;",
    "Keywords": "LLM;Ollama;OpenAI;AI;",
    "StartupNotify": "false",
    "X-GNOME-Autostart-enabled": "true",
}


def launch_command() -> list[str]:
    """How to start the tray app: the frozen executable itself, or the `roundhouse` script
    installed beside this Python."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = "roundhouse.exe" if sys.platform == "win32" else "roundhouse"
    return [str(Path(sys.executable).parent / script)]


class AutostartEntry(Protocol):
    @property
    def location(self) -> str:
        """Where the entry lives, for showing to the user."""
        ...

    def is_enabled(self) -> bool: ...

    def command(self) -> list[str] | None:
        """The command line the entry starts, or None when there is no entry."""
        ...

    def enable(self, command: Sequence[str] | None = None) -> None: ...

    def disable(self) -> bool:
        """Remove the entry; False when there was none."""
        ...


# --- Linux and other XDG desktops -------------------------------------------------------------

_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _exec_arg(arg: str) -> str:
    """Quote one argument per the Desktop Entry spec's Exec rules."""
    arg = arg.replace("%", "%%")
    if arg and not (_EXEC_RESERVED & set(arg)):
        return arg
    return '"' + "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg) + '"'


def _desktop_escape(value: str) -> str:
    # The string-level escaping applied to every value, beneath the Exec quoting.
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _desktop_unescape(value: str) -> str:
    out, chars = [], iter(value)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def _exec_line(command: Sequence[str]) -> str:
    return _desktop_escape(" ".join(_exec_arg(arg) for arg in command))


def _parse_exec(line: str) -> list[str]:
    args: list[str] = []
    current: list[str] = []
    in_quotes = has_arg = False
    chars = iter(_desktop_unescape(line))
    for ch in chars:
        if in_quotes and ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in '"`$\\' else "\\" + nxt)
        elif ch == '"':
            in_quotes, has_arg = not in_quotes, True
        elif ch in " \t" and not in_quotes:
            if has_arg:
                args.append("".join(current))
                current, has_arg = [], False
        else:
            current.append(ch)
            has_arg = True
    if has_arg:
        args.append("".join(current))
    return [arg.replace("%%", "%") for arg in args]


def xdg_config_home() -> Path:
    value = os.environ.get("XDG_CONFIG_HOME", "")
    # The spec says a relative value is invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".config"


class XdgAutostart:
    def __init__(self, config_home: Path | None = None) -> None:
        self._config_home = config_home

    @property
    def path(self) -> Path:
        return (self._config_home or xdg_config_home()) / "autostart" / DESKTOP_FILE

    @property
    def location(self) -> str:
        return str(self.path)

    def _read(self) -> dict[str, str] | None:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
        try:
            parser.read_string(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, configparser.Error, UnicodeDecodeError):
            return None
        if not parser.has_section("Desktop Entry"):
            return None
        return dict(parser.items("Desktop Entry"))

    def is_enabled(self) -> bool:
        entry = self._read()
        if entry is None or "Exec" not in entry:
            return False
        # Session managers' own "startup applications" tools switch an entry off with these.
        return (
            entry.get("Hidden", "false") != "true"
            and entry.get("X-GNOME-Autostart-enabled", "true") != "false"
        )

    def command(self) -> list[str] | None:
        entry = self._read()
        if entry is None or "Exec" not in entry:
            return None
        return _parse_exec(entry["Exec"])

    def enable(self, command: Sequence[str] | None = None) -> None:
        fields = {**DESKTOP_ENTRY, "Exec": _exec_line(command or launch_command())}
        body = "[Desktop Entry]\n" + "".join(f"{key}={value}\n" for key, value in fields.items())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(body, encoding="utf-8")
        temporary.replace(self.path)

    def disable(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


# --- macOS --------------------------------------------------------------------------------------


def launch_agent_plist(command: Sequence[str]) -> dict[str, object]:
    """The LaunchAgent; packaging/macos/org.roundhouse.tray.plist is the same with a sample path."""
    return {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        # Quitting from the tray menu must stay quit until the next login.
        "KeepAlive": False,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }


class MacLaunchAgent:
    def __init__(self, agents_dir: Path | None = None) -> None:
        self._agents_dir = agents_dir

    @property
    def path(self) -> Path:
        return (self._agents_dir or Path.home() / "Library" / "LaunchAgents") / f"{LAUNCH_AGENT_LABEL}.plist"

    @property
    def location(self) -> str:
        return str(self.path)

    def _read(self) -> dict[str, object] | None:
        try:
            data = plistlib.loads(self.path.read_bytes())
        except (FileNotFoundError, plistlib.InvalidFileException, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def is_enabled(self) -> bool:
        data = self._read()
        return data is not None and not data.get("Disabled", False) and bool(self.command())

    def command(self) -> list[str] | None:
        data = self._read()
        arguments = data.get("ProgramArguments") if data else None
        if not isinstance(arguments, list) or not all(isinstance(arg, str) for arg in arguments):
            return None
        return list(arguments)

    def enable(self, command: Sequence[str] | None = None) -> None:
        # Written, not loaded: `launchctl load` would start a second copy now (RunAtLoad).
        self.path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        plistlib.dump(launch_agent_plist(command or launch_command()), buffer)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(buffer.getvalue())
        temporary.replace(self.path)

    def disable(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


# --- Windows ------------------------------------------------------------------------------------


class WindowsRunKey:
    def __init__(self, run_key: str = RUN_KEY, approved_key: str = STARTUP_APPROVED_KEY) -> None:
        self._run_key = run_key
        self._approved_key = approved_key

    @property
    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{self._run_key}\\{RUN_VALUE}"

    def _value(self, key: str) -> object | None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                return winreg.QueryValueEx(handle, RUN_VALUE)[0]
        except FileNotFoundError:
            return None

    def _delete(self, key: str) -> bool:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
                winreg.DeleteValue(handle, RUN_VALUE)
        except FileNotFoundError:
            return False
        return True

    def is_enabled(self) -> bool:
        if self.command() is None:
            return False
        approved = self._value(self._approved_key)
        # Task Manager stores 12 bytes; an odd first byte (3) means the user switched it off there.
        return not (isinstance(approved, bytes) and approved[:1] and approved[0] & 1)

    def command(self) -> list[str] | None:
        value = self._value(self._run_key)
        if not isinstance(value, str) or not value.strip():
            return None
        return _split_windows_command(value)

    def enable(self, command: Sequence[str] | None = None) -> None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, self._run_key) as handle:
            winreg.SetValueEx(
                handle, RUN_VALUE, 0, winreg.REG_SZ, subprocess.list2cmdline(command or launch_command())
            )
        # Clear an earlier "disabled" mark from Task Manager, or Windows would still skip it.
        self._delete(self._approved_key)

    def disable(self) -> bool:
        removed = self._delete(self._run_key)
        self._delete(self._approved_key)
        return removed


def _split_windows_command(line: str) -> list[str]:
    """Split a command line the way `subprocess.list2cmdline` joins it (and CommandLineToArgvW reads it)."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    has_arg = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            run = 0
            while i < len(line) and line[i] == "\\":
                run += 1
                i += 1
            if i < len(line) and line[i] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    i += 1
            else:
                current.append("\\" * run)
            has_arg = True
            continue
        if ch == '"':
            in_quotes = not in_quotes
            has_arg = True
        elif ch in " \t" and not in_quotes:
            if has_arg:
                args.append("".join(current))
                current, has_arg = [], False
        else:
            current.append(ch)
            has_arg = True
        i += 1
    if has_arg:
        args.append("".join(current))
    return args


# --- For this OS ----------------------------------------------------------------------------------


def for_platform(
    platform: str | None = None,
    *,
    config_home: Path | None = None,
    launch_agents_dir: Path | None = None,
    run_key: str = RUN_KEY,
) -> AutostartEntry:
    """The entry kind for `platform` (a `sys.platform` value; this one by default)."""
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsRunKey(run_key)
    if platform == "darwin":
        return MacLaunchAgent(launch_agents_dir)
    return XdgAutostart(config_home)


def is_enabled(*, config_home: Path | None = None, launch_agents_dir: Path | None = None) -> bool:
    return for_platform(config_home=config_home, launch_agents_dir=launch_agents_dir).is_enabled()


def enable(
    command: Sequence[str] | None = None,
    *,
    config_home: Path | None = None,
    launch_agents_dir: Path | None = None,
) -> None:
    for_platform(config_home=config_home, launch_agents_dir=launch_agents_dir).enable(command)


def disable(*, config_home: Path | None = None, launch_agents_dir: Path | None = None) -> bool:
    return for_platform(config_home=config_home, launch_agents_dir=launch_agents_dir).disable()


def set_enabled(
    enabled: bool,
    *,
    config_home: Path | None = None,
    launch_agents_dir: Path | None = None,
) -> None:
    """What the tray's "Start at login" checkbox calls."""
    if enabled:
        enable(config_home=config_home, launch_agents_dir=launch_agents_dir)
    else:
        disable(config_home=config_home, launch_agents_dir=launch_agents_dir)
