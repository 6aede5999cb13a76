"""Errors that stop the daemon before it serves: each message names the file and what to do."""

from __future__ import annotations


class StartupError(Exception):
    """A problem the user must fix (a config file, the database); shown as one line, no traceback."""
