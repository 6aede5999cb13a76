"""What the crash dialog says: how the daemon ended, and the error lines from its log."""

from __future__ import annotations

import re
import signal

_ERROR = re.compile(
    r"\b(ERROR|CRITICAL|FATAL|Traceback|Exception|invalid|failed|cannot|could not|denied|refused)\b|"
    r"Error:|^roundhoused: ",
    re.IGNORECASE,
)
# Lines of a Python traceback after its first line, kept with it.
_TRACEBACK_BODY = re.compile(r"^(\s+|\w+(\.\w+)*(Error|Exception)\b)")


def ending(code: int, crashed: bool) -> str:
    """How the process ended. Qt reports the terminating signal as the exit code of a crash on POSIX."""
    if not crashed:
        return f"The daemon exited with status {code}."
    try:
        name = signal.Signals(code).name
    except ValueError:
        return "The daemon crashed (killed by a signal)."
    return f"The daemon was killed by signal {code} ({name})."


def error_lines(log_tail: str, limit: int = 30) -> str:
    """The error lines of the log and the traceback lines that follow them, newest last."""
    kept: list[str] = []
    in_error = False
    for line in log_tail.splitlines():
        if _ERROR.search(line):
            kept.append(line)
            in_error = True
        elif in_error and _TRACEBACK_BODY.match(line):
            kept.append(line)
        else:
            in_error = False
    return "\n".join(kept[-limit:])
