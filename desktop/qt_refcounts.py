"""Work around a reference-count bug of PySide6 6.12 on Python 3.11.

Each call of a Qt method that returns nothing drops one reference to `None` that it never
took (booleans likewise), so a long-running tray app would take Python down after a few
thousand calls ("Fatal Python error: none_dealloc"). Python 3.12 and later make these
objects immortal and are unaffected; on 3.11 we give them a reference count that no
session can use up. Remove this module once PySide6 is fixed.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 48


def protect_singletons() -> None:
    if sys.version_info >= (3, 12):
        return
    for obj in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(obj))
        if count.value < _RESERVE:
            count.value += _RESERVE
