"""When to restart a crashed daemon, and when to stop trying. Pure, so it is easy to test."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RestartPolicy:
    """Exponential backoff, at most `max_restarts` crashes within `window_s` seconds."""

    max_restarts: int = 5
    window_s: float = 300.0
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    _crashes: deque[float] = field(default_factory=deque, repr=False)

    def on_crash(self, now: float) -> float | None:
        """Seconds to wait before the next restart, or None once the cap is reached."""
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.window_s:
            self._crashes.popleft()
        if len(self._crashes) > self.max_restarts:
            return None
        return min(self.base_delay_s * 2 ** (len(self._crashes) - 1), self.max_delay_s)

    @property
    def recent_crashes(self) -> int:
        return len(self._crashes)

    def reset(self) -> None:
        self._crashes.clear()
