"""Stop strings matched on the streamed text, so the answer can say which one ended it.

llama-cpp-python cuts its output at a stop string but does not say which one (nor whether a
stop string or the end-of-sequence token ended it), and Anthropic's Messages answer names the
matched one in `stop_sequence`. So the embedded backend matches them itself.
"""

from __future__ import annotations


class StopMatcher:
    """Feeds text through, holding back a tail that may be the start of a stop string.

    `feed()` returns the text that is safe to send; once a stop string is seen, `matched`
    names it and everything from it on is dropped. `flush()` returns the held-back tail when
    the answer ends for another reason.
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.matched: str | None = None
        self._pending = ""

    def feed(self, text: str) -> str:
        if self.matched is not None:
            return ""
        if not self.stops:
            return text
        pending = self._pending + text
        found = [(pending.find(s), s) for s in self.stops]
        hits = [(at, s) for at, s in found if at >= 0]
        if hits:
            at, self.matched = min(hits, key=lambda hit: (hit[0], -len(hit[1])))
            self._pending = ""
            return pending[:at]
        keep = max((_partial_tail(pending, s) for s in self.stops), default=0)
        self._pending = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep]

    def flush(self) -> str:
        tail, self._pending = self._pending, ""
        return "" if self.matched is not None else tail


def _partial_tail(text: str, stop: str) -> int:
    """The length of the longest end of `text` that is a proper start of `stop`."""
    for size in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0
