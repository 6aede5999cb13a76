"""Binding arguments into Qt slots.

A lambda with default arguments (`lambda _=False, name=name: ...`) receives whatever the
signal carries in those defaults; these closures state which arguments they take instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def bind(function: Callable[..., Any], *args: Any) -> Callable[..., None]:
    """A slot that calls `function(*args)` and ignores what the signal carries."""

    def slot(*_signal: Any) -> None:
        function(*args)

    return slot


def bind_checked(function: Callable[..., Any], *args: Any) -> Callable[[bool], None]:
    """A slot for toggled(bool) / triggered(bool): calls `function(*args, checked)`."""

    def slot(checked: bool) -> None:
        function(*args, checked)

    return slot
