"""Memories fade unless reconfirmed: strength halves every half-life since the last confirmation."""

from __future__ import annotations

from roundhouse.daemon.memory.records import Memory
from roundhouse.daemon.memory.settings import DecaySettings

DAY_S = 86400.0


def strength(memory: Memory, now: float, settings: DecaySettings) -> float:
    days = max(0.0, now - memory.last_confirmed) / DAY_S
    base = 0.5 + 0.5 * max(0.0, min(1.0, memory.importance))
    support = 1.0 + 0.1 * min(max(memory.confirmations - 1, 0), 5)
    return min(1.0, base * support) * 0.5 ** (days / settings.half_life_days)


def expired(memory: Memory, now: float, settings: DecaySettings) -> bool:
    return strength(memory, now, settings) < settings.expire_below
