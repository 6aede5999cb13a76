"""Word lists the near-miss guards read: numbers, negations, units, opposites, names.

Opposites come from a short hand list (pairs WordNet does not hold, such as local/remote) and
from antonyms.txt beside this file (WordNet 3.0 antonyms, built by bench/cache_antonyms.py).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th", "seventh": "7th",
    "eighth": "8th", "ninth": "9th", "tenth": "10th",
}  # fmt: skip

NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor nowhere without cannot cant dont doesnt didnt "
    "isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt neednt aint".split()
)

UNITS = {
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
UNIT_NEEDS_NUMBER = frozenset({"g", "l", "w", "v", "in.", "min", "sec", "bar", "mi"})

# Pairs of opposite words: prompts that use opposite sides ask different things.
OPPOSITES: list[tuple[str, str]] = [
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
GAZETTEER = frozenset(
    "english french german spanish italian portuguese chinese mandarin cantonese japanese korean "
    "russian arabic hindi urdu bengali dutch swedish norwegian danish finnish polish czech turkish "
    "greek hebrew latin vietnamese thai indonesian ukrainian romanian hungarian persian swahili "
    "python java javascript typescript rust golang kotlin scala haskell perl ruby php swift "
    "c++ c# csharp fortran cobol lua julia elixir erlang clojure dart matlab sql bash powershell "
    "html css json yaml xml toml markdown react vue angular django flask fastapi numpy pandas "
    "pytorch tensorflow docker kubernetes linux windows macos ios android".split()
)

# Capitalised words that are not names (sentence openers, pronouns, common verbs).
COMMON = frozenset(
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


# Words that carry no question of their own: two prompts may differ in them freely.
FUNCTION_WORDS = (
    COMMON
    | frozenset(
        "is are was were be being been do does did doing done can could will would should shall may might "
        "must have has had having get gets got getting a an the of in on at to for from by with about as "
        "into onto over under up down out off via per than then so such that this these those there their "
        "it its it's i me my mine we us our you your yours he him his she her they them what which who "
        "whom whose when where why how whats hows whys any some all every each many much more most very "
        "really actually just also even still ever please kindly possible possibly way ways thing things "
        "someone somebody something one ones and or but if else because while whether like etc".split()
    )
    - NEGATIONS
)

# Words that give the words around them roles: "from A to B", "A than B", "convert A into B".
DIRECTION_MARKERS = frozenset("to into from than onto towards toward over versus before after".split())

ROMAN = {"I": 1, "V": 5, "X": 10}


def roman_value(token: str) -> int | None:
    """I..XXXIX in canonical form, or None ("XIV" → 14, "IIV" → None)."""
    if not token or any(c not in ROMAN for c in token) or len(token) > 6:
        return None
    total = 0
    for i, c in enumerate(token):
        value = ROMAN[c]
        total += -value if i + 1 < len(token) and ROMAN[token[i + 1]] > value else value
    return total if to_roman(total) == token else None


def to_roman(n: int) -> str:
    out = ""
    for value, numeral in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += numeral
            n -= value
    return out


def word_hash(word: str) -> str:
    return hashlib.blake2b(word.encode("utf-8"), digest_size=5).hexdigest()


def _data_lines(name: str) -> list[str]:
    text = resources.files("roundhouse.daemon.cache").joinpath(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@cache
def opposite_sides() -> dict[str, frozenset[str]]:
    """word → "pair:side" marks; two prompts on opposite sides of one pair ask different things.

    A pair's id is a hash of its two words, so marks stored with cache entries stay valid when
    the word lists grow.
    """
    sides: dict[str, set[str]] = {}

    def mark(left: str, right: str) -> None:
        first, second = sorted((left, right))
        pair = word_hash(f"{first}|{second}")[:6]
        sides.setdefault(first, set()).add(f"{pair}:0")
        sides.setdefault(second, set()).add(f"{pair}:1")

    for line in _data_lines("antonyms.txt"):
        word, others = line.split("\t")
        for other in others.split():
            if word < other:
                mark(word, other)
    for lefts, rights in OPPOSITES:
        for left in lefts.split():
            for right in rights.split():
                mark(left, right)
    return {word: frozenset(marks) for word, marks in sides.items()}


@cache
def synonym_groups() -> dict[str, frozenset[int]]:
    """word → ids of the WordNet synonym groups it belongs to."""
    groups: dict[str, set[int]] = {}
    for i, line in enumerate(_data_lines("synonyms.txt")):
        for word in line.split():
            groups.setdefault(word, set()).add(i)
    return {word: frozenset(ids) for word, ids in groups.items()}


@cache
def verbs() -> frozenset[str]:
    """Words used mostly as verbs: one put for another is how paraphrases differ (run/execute)."""
    return frozenset(_data_lines("verbs.txt"))
