"""Near-miss guards: prompts that look alike but ask different things never match.

Embeddings place "convert 5 km to miles" and "convert 5 miles to km", or "delete a branch
locally" and "delete a branch remotely", almost on top of each other. Before a semantic hit is
served the two prompts are aligned word by word, and the hit is refused when what is left over
changes the question: another number (digits of any script, number words, Roman numerals),
negation on one side only, other units, opposite words (WordNet antonyms and a hand list), a
name one side lacks, arguments swapped across "to", "from", "than" ..., or one content word put
in place of another that is not its synonym (time/space, junior/senior, laptop/desktop).

Features are kept without the prompt text: words are recorded as short hashes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

from roundhouse.daemon.cache.lexicon import (
    COMMON,
    DIRECTION_MARKERS,
    FUNCTION_WORDS,
    GAZETTEER,
    NEGATIONS,
    NUMBER_WORDS,
    UNIT_NEEDS_NUMBER,
    UNITS,
    opposite_sides,
    roman_value,
    synonym_groups,
    verbs,
    word_hash,
)

FEATURES_VERSION = 2
SHORT_PROMPT_WORDS = 16

_WORD = re.compile(r"[^\W_][\w'’+#.\-]*[\w+#]|[^\W_]", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(st|nd|rd|th)$")


@dataclass(frozen=True, slots=True)
class ContentWord:
    """A word that carries meaning, hashed: its lemma, its stem, its synonym groups, and how
    many direction words ("to", "than" ...) stand before it in the prompt."""

    lemma: str
    stem: str
    groups: tuple[int, ...]
    markers: int
    verb: bool = False
    name: bool = False


@dataclass(frozen=True, slots=True)
class PromptFeatures:
    numbers: tuple[str, ...]  # in order: "from Vue 2 to 3" is not "from Vue 3 to 2"
    negations: int
    entities: tuple[str, ...]  # hashed, in order of first appearance
    units: tuple[str, ...]  # in order
    opposites: frozenset[str]  # "pair:side" marks of the prompt's words
    words: frozenset[str]  # hashed lower-case words
    length: int = 0  # words in the prompt
    content: tuple[ContentWord, ...] = ()
    # (word before, direction word, word after), hashed: "km to miles" is not "miles to km".
    roles: frozenset[tuple[str, str, str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "v": FEATURES_VERSION,
            "n": list(self.numbers),
            "g": self.negations,
            "e": list(self.entities),
            "u": list(self.units),
            "o": sorted(self.opposites),
            "w": sorted(self.words),
            "l": self.length,
            "c": [[c.lemma, c.stem, list(c.groups), c.markers, c.verb, c.name] for c in self.content],
            "r": sorted(list(r) for r in self.roles),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromptFeatures | None:
        """None for features an older build wrote: such entries answer exact requests only."""
        if data.get("v") != FEATURES_VERSION:
            return None
        return cls(
            numbers=tuple(data["n"]),
            negations=int(data["g"]),
            entities=tuple(data["e"]),
            units=tuple(data["u"]),
            opposites=frozenset(data["o"]),
            words=frozenset(data["w"]),
            length=int(data["l"]),
            content=tuple(
                ContentWord(c[0], c[1], tuple(c[2]), int(c[3]), bool(c[4]), bool(c[5])) for c in data["c"]
            ),
            roles=frozenset((r[0], r[1], r[2]) for r in data["r"]),
        )


def _normalize_number(raw: str) -> str:
    raw = "".join(str(unicodedata.decimal(c)) if c.isdigit() else c for c in raw)  # ٣ → 3
    if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):
        raw = raw.replace(",", "")
    raw = raw.replace(",", ".")
    if "." in raw:
        raw = raw.rstrip("0").rstrip(".") or "0"
    return raw.lstrip("0") or "0"


def _is_entity_shape(token: str) -> bool:
    """Mixed case (iPhone, PyTorch), digits inside letters (GPT-4) or all caps (NASA)."""
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return False
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return True
    if any(c.isupper() for c in token[1:]) and any(c.islower() for c in token):
        return True
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def lemma(word: str) -> str:
    """A plural's singular, roughly: enough to align "branches" with "branch"."""
    if word.endswith(("'s", "s'")):
        word = word[:-2] if word.endswith("'s") else word[:-1]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "os")):
        return word[:-1]
    return word


def stem(word: str) -> str:
    """Lemma without -ly, -al, -ing, -ed, -er: "locally" and "local", "quickly" and "quick" align."""
    word = lemma(word)
    for suffix in ("ly", "al"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
    for suffix in ("ing", "ed", "er", "est", "e"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] + "i" if word.endswith("y") else word  # "movies" → "movy" → "movi" ← "movie"


def _base_forms(plain: str, base: str) -> set[str]:
    """The word's likely dictionary forms ("running" → run, "executed" → execute)."""
    forms = {plain, base}
    for suffix in ("ing", "ed", "es", "s"):
        if plain.endswith(suffix) and len(plain) - len(suffix) >= 3:
            root = plain[: -len(suffix)]
            forms |= {root, root + "e"}
            if len(root) > 3 and root[-1] == root[-2]:
                forms.add(root[:-1])  # "running" → "run"
    return forms


def _groups(forms: set[str]) -> tuple[int, ...]:
    """WordNet synonym groups of any of the forms."""
    groups = synonym_groups()
    found: set[int] = set()
    for form in forms:
        found |= groups.get(form, frozenset())
    return tuple(sorted(found))


def _roman(token: str, previous: str | None) -> int | None:
    """ "II", "XIV"; a lone I, V or X only after a name ("World War I", "Henry V", "iPhone X")."""
    value = roman_value(token)
    if value is None or (len(token) == 1 and not _after_name(previous)):
        return None
    return value


def _after_name(previous: str | None) -> bool:
    return bool(previous) and previous[0].isupper() and previous.lower() not in COMMON  # type: ignore[index]


def extract(text: str) -> PromptFeatures:
    tokens = [m.group(0) for m in _WORD.finditer(text.replace("’", "'"))]
    sides = opposite_sides()
    verb_words = verbs()
    numbers: list[str] = []
    negations = 0
    entities: list[str] = []
    units: list[str] = []
    opposites: set[str] = set()
    words: set[str] = set()
    content: list[ContentWord] = []
    markers = 0
    open_roles: list[tuple[str, str]] = []  # direction words waiting for the word after them
    roles: set[tuple[str, str, str]] = set()
    previous_numeric = False
    previous: str | None = None
    for raw in tokens:
        token = raw.strip(".'")
        if not token:
            continue
        lower = token.lower()
        plain = lower.replace("'", "")
        words.add(word_hash(plain))
        for part in re.split(r"[\-/]", lower):
            if part and part != lower:
                words.add(word_hash(part))

        digits = _NUMBER.findall(token)
        for d in digits:
            ordinal = _ORDINAL_SUFFIX.match(lower)
            numbers.append(ordinal.group(1) + "th" if ordinal else _normalize_number(d))
        roman = None if digits else _roman(token, previous)
        if roman is not None:
            numbers.append(str(roman))
        if lower in NUMBER_WORDS:
            value = NUMBER_WORDS[lower]
            numbers.append(value[:-2] + "th" if value.endswith(("st", "nd", "rd", "th")) else value)
        numeric = bool(digits) or roman is not None or lower in NUMBER_WORDS

        # A reply's opening "No," is no negation of the question ("No, X doesn't exist").
        opening_no = plain == "no" and previous is None
        if (plain in NEGATIONS or lower.endswith("n't")) and not opening_no:
            negations += 1

        unit_word = lower
        if digits and not lower[0].isalpha():
            unit_word = re.sub(r"^[\d.,]+", "", lower)  # "5km" → "km"
        if unit_word in UNITS and (unit_word not in UNIT_NEEDS_NUMBER or digits or previous_numeric):
            units.append(UNITS[unit_word])

        base = lemma(plain)
        for form in {lower, base, base[:-2] if base.endswith("ly") else base}:
            opposites |= sides.get(form, frozenset())

        capitalised = token[0].isupper() and lower not in COMMON and not digits
        # A capitalised word opening a sentence is a name only if it is not a common
        # opener; COMMON holds those (question words, imperative verbs, pronouns).
        named = lower in GAZETTEER or _is_entity_shape(token) or (capitalised and len(token) > 1)
        if named and lower not in COMMON and roman is None:
            entity = word_hash(plain)
            if entity not in entities:
                entities.append(entity)

        if lower in DIRECTION_MARKERS:
            markers += 1
            if content:
                open_roles.append((content[-1].lemma, lower))
        elif not numeric and plain not in FUNCTION_WORDS and plain not in NEGATIONS:
            forms = _base_forms(plain, base)
            word = ContentWord(
                word_hash(base),
                word_hash(stem(plain)),
                _groups(forms),
                markers,
                any(form in verb_words for form in forms),
                named,
            )
            content.append(word)
            roles.update((left, marker, word.lemma) for left, marker in open_roles)
            open_roles.clear()
        previous_numeric = numeric
        previous = token
    return PromptFeatures(
        numbers=tuple(numbers),
        negations=negations,
        entities=tuple(entities),
        units=tuple(units),
        opposites=frozenset(opposites),
        words=frozenset(words),
        length=len(tokens),
        content=tuple(content),
        roles=frozenset(roles),
    )


def _opposed(a: frozenset[str], b: frozenset[str]) -> bool:
    """One prompt on one side of an opposite pair, the other only on the other side."""
    sides_a: dict[str, set[str]] = {}
    sides_b: dict[str, set[str]] = {}
    for mark in a:
        pair, side = mark.split(":")
        sides_a.setdefault(pair, set()).add(side)
    for mark in b:
        pair, side = mark.split(":")
        sides_b.setdefault(pair, set()).add(side)
    return any(not sides_a[pair] & sides_b[pair] for pair in sides_a.keys() & sides_b.keys())


def _swapped(a: tuple[ContentWord, ...], b: tuple[ContentWord, ...]) -> bool:
    """Two words both prompts share, on opposite sides of a direction word in each:
    "convert km to miles" / "convert miles to km", "are cats smarter than dogs" / "dogs ... cats"."""
    first_a: dict[str, int] = {}
    for word in a:
        first_a.setdefault(word.lemma, word.markers)
    first_b: dict[str, int] = {}
    for word in b:
        first_b.setdefault(word.lemma, word.markers)
    shared = [w for w in first_a if w in first_b]
    for i, x in enumerate(shared):
        for y in shared[i + 1 :]:
            before_a = first_a[y] - first_a[x]
            before_b = first_b[y] - first_b[x]
            if before_a * before_b < 0:
                return True
    return False


def _roles_swapped(a: frozenset[tuple[str, str, str]], b: frozenset[tuple[str, str, str]]) -> bool:
    return any((y, m, x) in b and (x, m, y) not in b and x != y for x, m, y in a)


def _substituted(a: tuple[ContentWord, ...], b: tuple[ContentWord, ...]) -> bool:
    """All content words align but one on each side, and those two are nouns or modifiers that
    are not synonyms (time/space, laptop/desktop, locally/remotely)."""
    # Counted, not just present: "call petrol 'gas' when it's not a gas" → "'oil' ... a gas".
    left = Counter(w.lemma for w in a)
    left.subtract(w.lemma for w in b)
    only_a = [lemma for lemma, n in left.items() if n > 0]
    only_b = [lemma for lemma, n in left.items() if n < 0]
    if len(only_a) != 1 or len(only_b) != 1 or left[only_a[0]] != 1 or left[only_b[0]] != -1:
        return False
    x = next(w for w in a if w.lemma == only_a[0])
    y = next(w for w in b if w.lemma == only_b[0])
    # Verbs are left to the opposites list: paraphrases swap them freely (run/execute, load/fetch).
    # A name put in a verb's place still changes the question ("go to Harvard" → "Swift to").
    if (x.verb or y.verb) and not (x.name or y.name):
        return False
    return x.stem != y.stem and not set(x.groups) & set(y.groups)


def mismatch(a: PromptFeatures, b: PromptFeatures) -> str | None:
    """Why two prompts must not share an answer, or None when nothing tells them apart."""
    if a.numbers != b.numbers:
        return "numbers"
    # Counted: "why isn't it sexist not to ..." is not "why is it sexist not to ...".
    if a.negations != b.negations:
        return "negation"
    if a.units != b.units:
        return "units"
    if _opposed(a.opposites, b.opposites):
        return "opposites"
    # A name one prompt has and the other lacks: another person, place or language when
    # both have such a name, or a question narrowed to one when the other names nothing.
    a_extra = any(e not in b.words for e in a.entities)
    b_extra = any(e not in a.words for e in b.entities)
    if (a_extra and b_extra) or (a_extra and not b.entities) or (b_extra and not a.entities):
        return "entities"
    # In a short question the order of names carries roles ("from Paris to London", "is
    # Java faster than Python"); long passages reorder clauses freely when paraphrased.
    short = a.length <= SHORT_PROMPT_WORDS and b.length <= SHORT_PROMPT_WORDS
    if short:
        shared = [e for e in a.entities if e in b.entities]
        if shared != [e for e in b.entities if e in a.entities]:
            return "entity order"
    if _roles_swapped(a.roles, b.roles) or (short and _swapped(a.content, b.content)):
        return "swapped"
    if _substituted(a.content, b.content):
        return "substituted"
    return None
