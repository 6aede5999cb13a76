"""Money as people read it: cents for sums of a cent or more, four decimals below, and a floor."""

from __future__ import annotations

import math
from typing import Any


def usd(value: Any) -> str:
    """$12.34, $0.05, $0.0007, <$0.0001; "?" when the daemon sent no number."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return "?"
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    if abs(amount) >= 0.0001:
        return f"${amount:.4f}"
    return "<$0.0001"


def axis_top(highest: float) -> float:
    """A round number at or above `highest` (1, 2 or 5 times a power of ten) for a chart's top line,
    so that its label, printed by `usd`, is never below the tallest bar."""
    if highest <= 0:
        return 0.01
    power = 10 ** math.floor(math.log10(highest))
    for step in (1, 2, 5, 10):
        if highest <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power
