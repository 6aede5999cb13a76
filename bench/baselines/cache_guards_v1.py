"""Near-miss guards: prompts that look alike but ask different things never match.

Embeddings place "convert 5 km to miles" and "convert 5 miles to km", or "Is Python faster
than Java?" and "Is Java faster than Python?", almost on top of each other. Before a
semantic hit is served, the features below must agree: numbers (and versions), negation,
named entities (people, places, languages, products) and their order, units and their
order, and opposite words (best/worst, before/after, encode/decode ...).

Features are kept without the prompt text: word presence is recorded as short hashes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[^\W_][\w'’+#.\-]*[\w+#]|[^\W_]", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

# "one", "first", "second", "hundred" ... are left out: they are pronouns, ordering words
# or units as often as numbers ("one can", "at first", "a second", "thousands of").
_NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th", "seventh": "7th",
    "eighth": "8th", "ninth": "9th", "tenth": "10th",
}  # fmt: skip

_NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor nowhere without cannot cant dont doesnt didnt "
    "isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt neednt aint".split()
)

_UNITS = {
    **dict.fromkeys(["km", "kms", "kilometer", "kilometers", "kilometre", "kilometres"], "km"),
    **dict.fromkeys(["mile", "miles", "mi"], "mile"),
    **dict.fromkeys(["meter", "meters", "metre", "metres"], "m"),
    **dict.fromkeys(["cm", "centimeter", "centimeters", "centimetre", "centimetres"], "cm"),
    **dict.fromkeys(["mm", "millimeter", "millimeters", "millimetre", "millimetres"], "mm"),
    **dict.fromkeys(["foot", "feet", "ft"], "ft"),
    **dict.fromkeys(["inch", "inches", "in."], "inch"),
    **dict.fromkeys(["yard", "yards", "yd"], "yard"),
    **dict.fromkeys(["kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"], "kg"),
    **dict.fromkeys(["gram", "grams", "g"], "g"),
    **dict.fromkeys(["lb", "lbs", "pound", "pounds"], "lb"),
    **dict.fromkeys(["ounce", "ounces", "oz"], "oz"),
    **dict.fromkeys(["ton", "tons", "tonne", "tonnes"], "ton"),
    **dict.fromkeys(["liter", "liters", "litre", "litres", "l"], "l"),
    **dict.fromkeys(["ml", "milliliter", "milliliters", "millilitre", "millilitres"], "ml"),
    **dict.fromkeys(["gallon", "gallons", "gal"], "gal"),
    **dict.fromkeys(["cup", "cups"], "cup"),
    **dict.fromkeys(["celsius", "centigrade", "°c"], "C"),
    **dict.fromkeys(["fahrenheit", "°f"], "F"),
    **dict.fromkeys(["kelvin"], "K"),
    **dict.fromkeys(["second", "seconds", "sec", "secs"], "s"),
    **dict.fromkeys(["minute", "minutes", "min", "mins"], "min"),
    **dict.fromkeys(["hour", "hours", "hr", "hrs"], "h"),
    **dict.fromkeys(["day", "days"], "day"),
    **dict.fromkeys(["week", "weeks"], "week"),
    **dict.fromkeys(["month", "months"], "month"),
    **dict.fromkeys(["year", "years"], "year"),
    **dict.fromkeys(["decade", "decades"], "decade"),
    **dict.fromkeys(["century", "centuries"], "century"),
    **dict.fromkeys(["kb", "kilobyte", "kilobytes"], "KB"),
    **dict.fromkeys(["mb", "megabyte", "megabytes"], "MB"),
    **dict.fromkeys(["gb", "gigabyte", "gigabytes"], "GB"),
    **dict.fromkeys(["tb", "terabyte", "terabytes"], "TB"),
    **dict.fromkeys(["bit", "bits"], "bit"),
    **dict.fromkeys(["byte", "bytes"], "byte"),
    **dict.fromkeys(["dollar", "dollars", "usd", "$"], "USD"),
    **dict.fromkeys(["euro", "euros", "eur", "€"], "EUR"),
    **dict.fromkeys(["gbp", "sterling", "£"], "GBP"),
    **dict.fromkeys(["yen", "jpy", "¥"], "JPY"),
    **dict.fromkeys(["rupee", "rupees", "inr"], "INR"),
    **dict.fromkeys(["percent", "%", "percentage"], "%"),
    **dict.fromkeys(["mph"], "mph"),
    **dict.fromkeys(["kph", "kmh", "km/h"], "kmh"),
    **dict.fromkeys(["watt", "watts", "w"], "W"),
    **dict.fromkeys(["kw", "kilowatt", "kilowatts"], "kW"),
    **dict.fromkeys(["volt", "volts", "v"], "V"),
    **dict.fromkeys(["amp", "amps", "ampere", "amperes"], "A"),
    **dict.fromkeys(["calorie", "calories", "kcal"], "kcal"),
    **dict.fromkeys(["joule", "joules"], "J"),
    **dict.fromkeys(["acre", "acres"], "acre"),
    **dict.fromkeys(["hectare", "hectares"], "ha"),
    **dict.fromkeys(["psi"], "psi"),
    **dict.fromkeys(["bar"], "bar"),
}
# One-letter abbreviations are units only right after a number ("5 m", "3l").
_UNIT_NEEDS_NUMBER = frozenset({"g", "l", "w", "v", "in.", "min", "sec", "bar", "mi"})

# Pairs of opposite words: prompts that use opposite sides ask different things.
_OPPOSITES: list[tuple[str, str]] = [
    ("best", "worst"), ("most", "least"), ("more", "less fewer"), ("maximum max", "minimum min"),
    ("largest biggest", "smallest tiniest"), ("large big", "small tiny"), ("highest", "lowest"),
    ("high", "low"), ("higher", "lower"),
    ("increase increases increasing", "decrease decreases decreasing reduce"),
    ("before", "after"), ("first", "last"), ("buy buying", "sell selling"),
    ("cheap cheapest cheaper", "expensive priciest"), ("fast faster fastest", "slow slower slowest"),
    ("hot hottest", "cold coldest"), ("add", "remove delete"), ("enable", "disable"),
    ("start", "stop"), ("open", "close"), ("import", "export"), ("upload", "download"),
    ("encrypt", "decrypt"), ("encode", "decode"), ("serialize", "deserialize"), ("push", "pull"),
    ("win", "lose"), ("pros advantages benefits", "cons disadvantages drawbacks"), ("true", "false"),
    ("legal", "illegal"), ("safe", "dangerous unsafe"), ("healthy", "unhealthy"), ("male", "female"),
    ("men man", "women woman"), ("boy boys", "girl girls"), ("north northern", "south southern"),
    ("east eastern", "west western"), ("above", "below"), ("inside", "outside"), ("input", "output"),
    ("client", "server"), ("uppercase", "lowercase"), ("ascending", "descending"),
    ("positive", "negative"), ("early earlier", "late later"), ("young younger", "old older"),
    ("long longer", "short shorter"), ("private", "public"), ("sync synchronous", "async asynchronous"),
    ("horizontal horizontally", "vertical vertically"), ("compress", "decompress"),
    ("install", "uninstall"), ("login", "logout"), ("mean average", "median"),
    ("today", "tomorrow yesterday"), ("morning", "evening night"), ("summer", "winter"),
    ("spring", "autumn fall"), ("rise", "fall"), ("gain", "loss lose"), ("profit", "loss"),
    ("import", "export"), ("lend", "borrow"), ("teacher", "student"), ("parent parents", "child children"),
    ("wife", "husband"), ("mother", "father"), ("sister", "brother"), ("daughter", "son"),
    ("left", "right"), ("odd", "even"), ("prime", "composite"), ("sum", "product difference"),
    ("multiply", "divide"), ("plus", "minus"), ("mac macos", "windows linux"),
]  # fmt: skip

# Named things that people write in lower case too: languages, natural and programming.
_GAZETTEER = frozenset(
    "english french german spanish italian portuguese chinese mandarin cantonese japanese korean "
    "russian arabic hindi urdu bengali dutch swedish norwegian danish finnish polish czech turkish "
    "greek hebrew latin vietnamese thai indonesian ukrainian romanian hungarian persian swahili "
    "python java javascript typescript rust golang kotlin scala haskell perl ruby php swift "
    "c++ c# csharp fortran cobol lua julia elixir erlang clojure dart matlab sql bash powershell "
    "html css json yaml xml toml markdown react vue angular django flask fastapi numpy pandas "
    "pytorch tensorflow docker kubernetes linux windows macos ios android".split()
)

# Capitalised words that are not names (sentence openers, pronouns, common verbs).
_COMMON = frozenset(
    "a an the i i'm i've i'd i'll me my we our you your he she it they them their this that these those "
    "what which who whom whose when where why how is are was were be been am do does did can could "
    "would should will shall may might must have has had if then else and or but so because as at by "
    "for from in into of on onto to with about above after again all any both each few more most "
    "other some such only own same than too very just also not no yes please hi hello hey thanks "
    "thank explain describe tell give list write make show find help create define summarize "
    "summarise translate compare convert calculate compute name suggest recommend provide generate "
    "let there here now today okay ok well hmm so why's what's how's who's where's it's there's "
    "imagine consider assume suppose use using implement fix debug solve check rewrite improve "
    "is there any anything something everything nothing someone anyone everyone best good bad".split()
)

SHORT_PROMPT_WORDS = 16
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(st|nd|rd|th)$")


def _word_hash(word: str) -> str:
    return hashlib.blake2b(word.encode("utf-8"), digest_size=5).hexdigest()


def _opposite_index() -> dict[str, tuple[int, int]]:
    index: dict[str, tuple[int, int]] = {}
    for pair_id, (left, right) in enumerate(_OPPOSITES):
        for word in left.split():
            index.setdefault(word, (pair_id, 0))
        for word in right.split():
            index.setdefault(word, (pair_id, 1))
    return index


_OPPOSITE_INDEX = _opposite_index()


@dataclass(frozen=True, slots=True)
class PromptFeatures:
    numbers: tuple[str, ...]  # in order: "from Vue 2 to 3" is not "from Vue 3 to 2"
    negations: int
    entities: tuple[str, ...]  # hashed, in order of first appearance
    units: tuple[str, ...]  # in order
    opposites: tuple[tuple[int, int], ...]  # sorted (pair, side)
    words: frozenset[str]  # hashed lower-case words
    length: int = 0  # words in the prompt

    def to_json(self) -> dict[str, Any]:
        return {
            "n": list(self.numbers),
            "g": self.negations,
            "e": list(self.entities),
            "u": list(self.units),
            "o": [list(o) for o in self.opposites],
            "w": sorted(self.words),
            "l": self.length,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromptFeatures:
        return cls(
            numbers=tuple(data["n"]),
            negations=int(data["g"]),
            entities=tuple(data["e"]),
            units=tuple(data["u"]),
            opposites=tuple((int(a), int(b)) for a, b in data["o"]),
            words=frozenset(data["w"]),
            length=int(data.get("l", 0)),
        )


def _normalize_number(raw: str) -> str:
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


def extract(text: str) -> PromptFeatures:
    tokens = [m.group(0) for m in _WORD.finditer(text.replace("’", "'"))]
    numbers: list[str] = []
    negations = 0
    entities: list[str] = []
    units: list[str] = []
    opposites: set[tuple[int, int]] = set()
    words: set[str] = set()
    previous_numeric = False
    for raw in tokens:
        token = raw.strip(".'")
        if not token:
            continue
        lower = token.lower()
        plain = lower.replace("'", "")
        words.add(_word_hash(plain))
        for part in re.split(r"[\-/]", lower):
            if part and part != lower:
                words.add(_word_hash(part))

        digits = _NUMBER.findall(token)
        for d in digits:
            ordinal = _ORDINAL_SUFFIX.match(lower)
            numbers.append(ordinal.group(1) + "th" if ordinal else _normalize_number(d))
        if lower in _NUMBER_WORDS:
            value = _NUMBER_WORDS[lower]
            numbers.append(value[:-2] + "th" if value.endswith(("st", "nd", "rd", "th")) else value)

        if plain in _NEGATIONS or lower.endswith("n't"):
            negations += 1

        unit_word = lower
        if digits and not lower[0].isalpha():
            unit_word = re.sub(r"^[\d.,]+", "", lower)  # "5km" → "km"
        if unit_word in _UNITS and (unit_word not in _UNIT_NEEDS_NUMBER or digits or previous_numeric):
            units.append(_UNITS[unit_word])

        if lower in _OPPOSITE_INDEX:
            opposites.add(_OPPOSITE_INDEX[lower])

        capitalised = token[0].isupper() and lower not in _COMMON and not digits
        # A capitalised word opening a sentence is a name only if it is not a common
        # opener; _COMMON holds those (question words, imperative verbs, pronouns).
        named = lower in _GAZETTEER or _is_entity_shape(token) or (capitalised and len(token) > 1)
        if named and lower not in _COMMON:
            entity = _word_hash(plain)
            if entity not in entities:
                entities.append(entity)

        previous_numeric = bool(digits) or lower in _NUMBER_WORDS
    return PromptFeatures(
        numbers=tuple(numbers),
        negations=negations,
        entities=tuple(entities),
        units=tuple(units),
        opposites=tuple(sorted(opposites)),
        words=frozenset(words),
        length=len(tokens),
    )


def mismatch(a: PromptFeatures, b: PromptFeatures) -> str | None:
    """Why two prompts must not share an answer, or None when nothing tells them apart."""
    if a.numbers != b.numbers:
        return "numbers"
    # Presence, not count: "No, X doesn't exist" and "X is not there" say the same.
    if (a.negations > 0) != (b.negations > 0):
        return "negation"
    if a.units != b.units:
        return "units"
    sides_a: dict[int, set[int]] = {}
    sides_b: dict[int, set[int]] = {}
    for pair, side in a.opposites:
        sides_a.setdefault(pair, set()).add(side)
    for pair, side in b.opposites:
        sides_b.setdefault(pair, set()).add(side)
    for pair in sides_a.keys() & sides_b.keys():
        if not sides_a[pair] & sides_b[pair]:
            return "opposites"
    # A name one prompt has and the other lacks: another person, place or language when
    # both have such a name, or a question narrowed to one when the other names nothing.
    a_extra = any(e not in b.words for e in a.entities)
    b_extra = any(e not in a.words for e in b.entities)
    if (a_extra and b_extra) or (a_extra and not b.entities) or (b_extra and not a.entities):
        return "entities"
    # In a short question the order of names carries roles ("from Paris to London", "is
    # Java faster than Python"); long passages reorder clauses freely when paraphrased.
    if a.length <= SHORT_PROMPT_WORDS and b.length <= SHORT_PROMPT_WORDS:
        shared = [e for e in a.entities if e in b.entities]
        if shared != [e for e in b.entities if e in a.entities]:
            return "entity order"
    return None
