"""What a key test's answer means for the user: the key works, the provider rejected it, or the
provider could not be reached (which says nothing about the key)."""

from __future__ import annotations

import re
from typing import Any

_REJECTED = re.compile(
    r"\b(401|403)\b|unauthori[sz]ed|invalid[ _-]?(api[ _-]?)?key|incorrect api key|authentication|"
    r"permission denied|forbidden",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"connect|timed? ?out|timeout|unreachable|network|name resolution|resolve|dns|refused|reset by peer|"
    r"\b(502|503|504)\b|did not answer",
    re.IGNORECASE,
)


def key_verdict(provider: str, answer: dict[str, Any]) -> tuple[str, bool]:
    """(text, is_error) for the answer of POST /control/v1/keys/{provider}/test."""
    if answer.get("ok"):
        return f"{provider}: the key works ({answer.get('model')} answered).", False
    detail = str(answer.get("detail") or "no detail")
    if _REJECTED.search(detail):
        return f"{provider} rejected the key: {detail}", True
    if _UNREACHABLE.search(detail):
        return f"{provider} could not be reached, so the key was not checked: {detail}", True
    return f"{provider} answered the test with an error (the key may still be fine): {detail}", True
