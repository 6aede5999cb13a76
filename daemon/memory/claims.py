"""What a short factual statement claims: its named things, its quantities, its polarity.

The curator compares two statements that the embedder finds similar. Similar is not enough:
"llama3.1:8b loads in 3 s" and "qwen2.5:7b loads in 3 s" are about different models, and
"llama3.1:8b loads in 3 s" and "llama3.1:8b loads in 9 s" disagree. These rules tell those
cases apart without a language model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A quantity: optional currency sign, a number, an optional unit glued on or following.
_QUANTITY = re.compile(
    r"(?<![\w.:/-])(?P<cur>\$|usd\s*)?(?P<num>\d+(?:[.,]\d+)*)\s*"
    r"(?P<unit>%|percent\b|ms\b|milliseconds?\b|s\b|secs?\b|seconds?\b|minutes?\b|mins?\b|hours?\b|h\b|"
    r"days?\b|weeks?\b|months?\b|gb\b|gib\b|mb\b|mib\b|usd\b|dollars?\b|tok(?:ens)?\s*/\s*s\b|"
    r"tok(?:ens)?\s+(?:per|each|a)\s+second\b|t/s\b|x\b|times\b|requests?\b|calls?\b|tokens?\b)?",
    re.IGNORECASE,
)
_UNIT_CANON = {
    "%": "%", "percent": "%",
    "ms": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "minute": "min", "minutes": "min", "min": "min", "mins": "min",
    "hour": "h", "hours": "h", "h": "h",
    "day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
    "gb": "GB", "gib": "GB", "mb": "MB", "mib": "MB",
    "usd": "$", "dollar": "$", "dollars": "$",
    "t/s": "tok/s", "x": "x", "times": "x",
    "request": "req", "requests": "req", "call": "req", "calls": "req",
    "token": "tok", "tokens": "tok",
}  # fmt: skip
# Identifiers of models, hosts and versions: letters and digits mixed, or joined by : / _ .
_IDENTIFIER = re.compile(
    r"(?<![\w$])(?=[\w.:/-]*[A-Za-z])(?=[\w.:/-]*\d)[A-Za-z0-9][\w.:/-]*[A-Za-z0-9]|"
    r"\b[a-z]+(?:[_:/][a-z0-9]+)+\b"
)
# Names written with capitals (apps, products, languages), one or several words.
_PROPER = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:[ -][A-Z][A-Za-z0-9]*)*\b")

NEGATIONS = frozenset(
    "not no never none nothing cannot can't won't isn't aren't doesn't don't didn't wasn't weren't "
    "hasn't haven't shouldn't without fails neither nor".split()
)
# Opposite poles of one scale: a word from each pole about the same thing is a contradiction.
POLES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = tuple(
    (axis, frozenset(up.split()), frozenset(down.split()))
    for axis, up, down in (
        ("trend",
         "increasing increase increased increases rising rises rose growing grows grew up higher more",
         "decreasing decrease decreased decreases falling falls fell shrinking shrinks shrank down lower "
         "less"),
        ("speed", "fast faster fastest quick quicker", "slow slower slowest sluggish"),
        ("price", "cheap cheaper cheapest inexpensive", "expensive costlier pricey"),
        ("quality", "better good improved", "worse bad degraded"),
        ("switch", "enabled allowed allow allows on", "disabled blocked block blocks off"),
        ("place", "local locally on-device", "cloud remote remotely"),
        ("length", "short shorter brief concise terse", "long longer detailed verbose lengthy"),
        ("tone", "formal", "casual informal"),
        ("outcome", "succeeds passes pass passed reliable stable", "fails fail failed unreliable unstable"),
        ("frequency", "always", "never"),
        ("liking", "likes prefers enjoys wants", "dislikes avoids hates"),
    )
)  # fmt: skip
_POLE_OF: dict[str, tuple[str, int]] = {}
for _axis, _up, _down in POLES:
    for _w in _up:
        _POLE_OF[_w] = (_axis, 1)
    for _w in _down:
        _POLE_OF[_w] = (_axis, -1)
# Words that make a claim single-valued: a second value for the same slot replaces the first.
CHOICE_MARKERS = frozenset(
    "best cheapest fastest slowest default preferred prefers recommended should mostly usually primary "
    "main favourite favorite top leading only lives live moved based located works employed".split()
)
STOPWORDS = frozenset(
    "a an the of for to in on at by with and or is are was were be been being it its this that these those "
    "as from into per each about around roughly approximately nearly almost some any here there now "
    "on this machine than then has have had will would can could".split()
)
# Words that open a sentence with a capital without being part of a name.
_OPENERS = STOPWORDS | frozenset(
    "for last moving when if since after before during across over most all every time while".split()
)
_WORD = re.compile(r"[a-z][a-z']*")


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    unit: str  # canonical unit, "" when none


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    identifiers: frozenset[str]  # model ids, versions, hosts (lower-case)
    names: frozenset[str]  # capitalised names (lower-case)
    quantities: tuple[Quantity, ...]
    negated: bool
    words: frozenset[str]
    choice: bool
    polar: frozenset[str] = field(default_factory=frozenset)  # poles touched, e.g. "trend+1"
    # Capitalised words that open a sentence: names only if the other statement names them too.
    initial: frozenset[str] = field(default_factory=frozenset)

    @property
    def entities(self) -> frozenset[str]:
        return self.identifiers | self.names


def _canon_unit(raw: str | None, currency: str | None) -> str:
    if currency:
        return "$"
    if not raw:
        return ""
    unit = re.sub(r"\s+", " ", raw.lower()).strip()
    if ("/" in unit and unit.startswith("tok")) or ("second" in unit and unit.startswith("tok")):
        return "tok/s"
    return _UNIT_CANON.get(unit, unit)


def _number(raw: str) -> float:
    cleaned = (
        raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw.replace(",", ".")
    )
    try:
        return float(cleaned)
    except ValueError:
        return float("nan")


def analyse(text: str) -> Claim:
    quantities = tuple(
        Quantity(_number(m.group("num")), _canon_unit(m.group("unit"), m.group("cur")))
        for m in _QUANTITY.finditer(text)
    )
    # Quantities are blanked with a same-length run so that offsets stay put.
    masked = _QUANTITY.sub(lambda m: " " * len(m.group(0)), text)
    identifiers = {m.group(0).lower().rstrip(".:") for m in _IDENTIFIER.finditer(masked)}
    masked = _IDENTIFIER.sub(lambda m: " " * len(m.group(0)), masked)
    sentence_starts = {0} | {m.end() for m in re.finditer(r"[.!?:;,]\s+", masked)}
    names: set[str] = set()
    initial: set[str] = set()
    for m in _PROPER.finditer(masked):
        parts = m.group(0).split()
        if m.start() in sentence_starts and parts[0].lower() in _OPENERS:
            parts = parts[1:]  # "For Open WebUI" names Open WebUI
        elif m.start() in sentence_starts and len(parts) == 1 and "-" not in parts[0]:
            initial.add(parts[0].lower())  # a name, or an ordinary word that starts a sentence
            continue
        if len(parts) == 1 and parts[0].isupper() and len(parts[0]) <= 5:
            continue  # an acronym such as GPU, VRAM or API names a kind of thing, not a subject
        if parts:
            names.add(" ".join(parts).lower())
    lowered = text.lower().replace("’", "'")
    words = _WORD.findall(lowered)
    negations = sum(1 for w in words if w in NEGATIONS or w.endswith("n't"))
    content = frozenset(w for w in words if w not in STOPWORDS and w not in NEGATIONS)
    return Claim(
        text=text,
        identifiers=frozenset(identifiers),
        names=frozenset(names),
        quantities=quantities,
        negated=negations % 2 == 1,
        words=content,
        choice=bool(content & CHOICE_MARKERS),
        polar=frozenset(f"{_POLE_OF[w][0]}{_POLE_OF[w][1]:+d}" for w in content if w in _POLE_OF),
        initial=frozenset(initial),
    )


def _units(claim: Claim) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for q in claim.quantities:
        out.setdefault(q.unit, []).append(q.value)
    return out


def _close(a: float, b: float, tolerance: float = 0.02) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-9)


@dataclass(frozen=True, slots=True)
class Comparison:
    """How two similar statements relate: `same_subject` false means they are about different
    things; `conflict` names what disagrees when they are about the same thing."""

    same_subject: bool
    conflict: str | None
    reason: str


def _same_name(a: str, b: str) -> bool:
    # "Switching Obsidian" at the start of a sentence names Obsidian.
    return a == b or a.endswith(" " + b) or b.endswith(" " + a)


def _unmatched(mine: frozenset[str], theirs: frozenset[str]) -> set[str]:
    return {e for e in mine if not any(_same_name(e, t) for t in theirs)}


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def compare(old: Claim, new: Claim, *, one_subject: bool = False) -> Comparison:
    """`one_subject`: both statements are about the same single subject (facts about the user),
    so a single-valued claim naming another place or product is a change, not a new fact."""
    old_entities = old.entities | {w for w in old.initial if any(_same_name(w, e) for e in new.entities)}
    new_entities = new.entities | {w for w in new.initial if any(_same_name(w, e) for e in old.entities)}
    only_old = _unmatched(old_entities, new_entities)
    only_new = _unmatched(new_entities, old_entities)
    if only_old or only_new:
        if len(only_old) == 1 and len(only_new) == 1 and old.choice and new.choice:
            (before,), (after,) = only_old, only_new
            if one_subject or (_versioned(before) and _versioned(after)):
                return Comparison(True, "choice", f"a single-valued claim changed from {before} to {after}")
        differing = sorted(only_old | only_new)
        return Comparison(False, None, "about different things: " + ", ".join(differing[:4]))
    # The same sentence frame opened by a different capitalised word: a different subject.
    opened_old, opened_new = old.initial - new.initial, new.initial - old.initial
    if len(opened_old) == 1 and len(opened_new) == 1:
        rest_old, rest_new = old.words - opened_old, new.words - opened_new
        if _jaccard(rest_old, rest_new) >= 0.7:
            return Comparison(
                False, None, f"about different things: {next(iter(opened_old))}, {next(iter(opened_new))}"
            )
    old_units, new_units = _units(old), _units(new)
    if set(old_units) != set(new_units):
        return Comparison(False, None, "measures different quantities")
    for unit, values in new_units.items():
        before = old_units[unit]
        if len(before) == len(values) and not all(
            _close(a, b) for a, b in zip(sorted(before), sorted(values), strict=True)
        ):
            label = unit or "number"
            return Comparison(True, "number", f"{label} changed from {_fmt(before)} to {_fmt(values)}")
    if old.negated != new.negated:
        return Comparison(True, "negation", "one statement negates the other")
    flipped = sorted(p for p in new.polar if _opposite(p) in old.polar and p not in old.polar)
    if flipped:
        axis = flipped[0][:-2]
        return Comparison(True, "antonym", f"the {axis} is reversed")
    return Comparison(True, None, "same subject, no disagreement found")


def same_quantities(old: Claim, new: Claim) -> bool:
    """Both carry quantities, and the same ones: a strong sign that they state one fact."""
    if not old.quantities or not new.quantities:
        return False
    a, b = _units(old), _units(new)
    return set(a) == set(b) and all(
        len(a[u]) == len(b[u]) and all(_close(x, y) for x, y in zip(sorted(a[u]), sorted(b[u]), strict=True))
        for u in a
    )


def _versioned(entity: str) -> bool:
    """Model ids carry a version or size (llama3.1:8b, gpt-4o-mini); task and app names do not."""
    return any(c.isdigit() for c in entity)


def _opposite(pole: str) -> str:
    return pole[:-2] + ("-1" if pole.endswith("+1") else "+1")


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:g}" for v in values)
