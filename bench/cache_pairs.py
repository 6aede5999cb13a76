"""Builds the semantic cache's evaluation pairs: near misses and paraphrases, split dev / held-out.

    .venv/bin/python bench/cache_pairs.py /work/shared/data/semantic-cache

Near misses are real questions (Quora's and GPTCache's) with one meaning-changing edit, its
category recorded: an opposite modifier (WordNet antonyms, daemon/cache/antonyms.txt), a
different modifier of the same kind (a list below), swapped arguments (from X to Y, A than B,
convert A to B), another number (digits, words, Roman numerals, other scripts), negation,
another entity (country, city, person, company, product), unit, version or language. Where few
questions carry an edit, templates over the same word lists add pairs (source "template").
Paraphrases are Quora duplicates (GPTCache's 999 pairs are scored whole by cache_eval.py).

The split is made once, with a fixed seed, before any guard sees the pairs, and by edit: the
word pairs of a held-out row (soft/hard, Paris/Berlin) never occur in a dev row, so tuning on
dev cannot learn the held-out edits. Rows: category, edit, cached, asked, source, split.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"
ANTONYMS = Path(__file__).resolve().parents[1] / "daemon" / "cache" / "antonyms.txt"
SEED = 20261203
PER_CATEGORY = 220
PARAPHRASES = 1200

# Different modifiers of one kind, most of them no antonyms in WordNet.
MODIFIERS = [
    ("locally", "remotely"), ("local", "remote"), ("junior", "senior"), ("time", "space"),
    ("frontend", "backend"), ("front-end", "back-end"), ("client-side", "server-side"),
    ("beginner", "expert"), ("beginners", "experts"), ("undergraduate", "graduate"),
    ("bachelor's", "master's"), ("physics", "chemistry"), ("biology", "chemistry"),
    ("mechanical", "electrical"), ("civil", "mechanical"), ("summer", "winter"),
    ("breakfast", "dinner"), ("lunch", "dinner"), ("coffee", "tea"), ("cats", "dogs"),
    ("cat", "dog"), ("vegetarian", "vegan"), ("iphone", "android"), ("laptop", "desktop"),
    ("online", "offline"), ("manual", "automatic"), ("wireless", "wired"), ("stocks", "bonds"),
    ("renting", "buying"), ("weekly", "monthly"), ("daily", "weekly"), ("morning", "evening"),
    ("husband", "wife"), ("boyfriend", "girlfriend"), ("son", "daughter"), ("brother", "sister"),
    ("mother", "father"), ("teacher", "student"), ("employer", "employee"), ("landlord", "tenant"),
    ("buyer", "seller"), ("import", "export"), ("imports", "exports"), ("upload", "download"),
    ("encrypt", "decrypt"), ("compress", "decompress"), ("merge", "rebase"), ("push", "pull"),
    ("horizontal", "vertical"), ("maximum", "minimum"), ("speed", "velocity"), ("mean", "median"),
    ("interest", "principal"), ("gold", "silver"), ("oil", "gas"), ("solar", "wind"),
    ("hardware", "software"), ("ram", "rom"), ("cpu", "gpu"), ("ssd", "hdd"), ("tcp", "udp"),
    ("http", "https"), ("sql", "nosql"), ("stack", "queue"), ("array", "list"), ("bfs", "dfs"),
    ("mitosis", "meiosis"), ("weather", "climate"), ("virus", "bacteria"), ("democrats", "republicans"),
]  # fmt: skip
COUNTRIES = (
    "India China Pakistan Japan Germany France Canada Australia Russia Brazil Italy Spain Mexico "
    "Nigeria Egypt Kenya Turkey Iran Israel Sweden Norway Singapore Indonesia Bangladesh Nepal "
    "Switzerland Netherlands Ireland Poland Argentina Korea Vietnam Thailand Malaysia Dubai"
).split()
CITIES = (
    "Delhi Mumbai Bangalore Chennai Kolkata Hyderabad Pune London Paris Berlin Tokyo Toronto "
    "Sydney Boston Chicago Seattle Dallas Houston Moscow Beijing Shanghai Rome Madrid Amsterdam"
).split()
PEOPLE = (
    "Trump Obama Clinton Modi Gandhi Nehru Putin Hitler Einstein Newton Musk Jobs Gates Zuckerberg "
    "Shakespeare Lincoln Churchill Stalin Mao Napoleon Kejriwal Messi Ronaldo"
).split()
COMPANIES = (
    "Google Facebook Amazon Apple Microsoft Quora Uber Netflix Twitter Flipkart Samsung Intel IBM "
    "Infosys TCS Wipro Tesla Oracle Adobe Snapchat Instagram WhatsApp LinkedIn Yahoo"
).split()
PROGRAMMING = "Python Java JavaScript Rust Go C++ Ruby PHP Swift Kotlin Scala Haskell Perl C#".split()
NATURAL = "English French German Spanish Hindi Chinese Japanese Russian Arabic Italian Korean Urdu".split()
UNITS = [
    ["km", "miles", "meters", "feet"], ["kg", "pounds", "grams", "ounces"],
    ["Celsius", "Fahrenheit", "Kelvin"], ["hours", "minutes", "seconds", "days"],
    ["liters", "gallons", "cups"], ["GB", "MB", "TB"], ["dollars", "euros", "rupees", "pounds"],
    ["inches", "centimeters", "feet"], ["mph", "km/h"], ["months", "weeks", "years"],
]  # fmt: skip
NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
ROMAN = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
SCRIPTS = {
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩", "devanagari": "०१२३४५६७८९", "fullwidth": "０１２３４５６７８９",
    "bengali": "০১২৩৪৫৬৭৮৯", "thai": "๐๑๒๓๔๕๖๗๘๙",
}  # fmt: skip
VERSIONED = [
    ("Python", ["2", "3", "3.8", "3.11", "3.12"]), ("iPhone", ["6", "7", "8", "X", "11", "12", "13"]),
    ("Windows", ["7", "8", "10", "11", "XP"]), ("Java", ["8", "11", "17", "21"]),
    ("Android", ["10", "11", "12", "13"]), ("Angular", ["1", "2", "14"]), ("Vue", ["2", "3"]),
    ("Ubuntu", ["18.04", "20.04", "22.04"]), ("PlayStation", ["3", "4", "5"]), ("GPT", ["3", "3.5", "4"]),
    ("Node", ["14", "16", "18", "20"]), ("Django", ["2", "3", "4"]), ("macOS", ["11", "12", "13", "14"]),
]  # fmt: skip
AUXILIARIES = re.compile(r"\b(is|are|can|does|do|should|will|would|could|was|were|did|has|have)\b (\w+)")
NEGATED = re.compile(r"\b(is|are|can|does|do|should|will|would|could|was|were|did|has|have)(n't| not)\b")
COMPARATIVE = re.compile(
    r"\b([A-Z][\w+#]*|[a-z]+s) (better|worse|faster|slower|bigger|smaller|harder|easier|safer|"
    r"cheaper|stronger|richer|older|more \w+|less \w+) than ([A-Z][\w+#]*|[a-z]+s)\b"
)
FROM_TO = re.compile(r"\bfrom ([A-Za-z][\w+#]*) to ([A-Za-z][\w+#]*)\b")
X_TO_Y = re.compile(
    r"\b(convert|translate|switch|migrate|move|transfer) ([A-Za-z][\w+#]*) (to|into) ([A-Za-z][\w+#]*)"
)

Row = dict[str, str]


def _replace_word(text: str, old: str, new: str) -> str | None:
    pattern = re.compile(rf"(?<![\w+#]){re.escape(old)}(?![\w+#])", re.IGNORECASE)
    match = pattern.search(text)
    if match is None:
        return None
    found = match.group(0)
    if found[:1].isupper() and new[:1].islower():
        new = new[:1].upper() + new[1:]
    return text[: match.start()] + new + text[match.end() :]


def load_questions(data: Path) -> list[tuple[str, str]]:
    with gzip.open(data / "quora_duplicate_pairs.json.gz", "rt", encoding="utf-8") as f:
        quora = json.load(f)
    with open(data / "gptcache_mock_pairs.json", encoding="utf-8") as f:
        gpt = json.load(f)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for source, pairs in (("gptcache", gpt), ("quora", quora)):
        for i, pair in enumerate(pairs):
            for side in ("origin", "similar"):
                text = " ".join(pair[side].split())
                if 12 <= len(text) <= 300 and text not in seen:
                    seen.add(text)
                    out.append((text, f"{source}:{i}:{side}"))
    return out


def load_antonyms(vocabulary: Counter[str], min_count: int) -> list[tuple[str, str]]:
    """Direct-looking antonym pairs where both words are common in the questions."""
    pairs: set[tuple[str, str]] = set()
    for line in ANTONYMS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        word, others = line.split("\t")
        for other in others.split():
            if vocabulary[word] >= min_count and vocabulary[other] >= min_count and len(word) > 2:
                pairs.add(tuple(sorted((word, other))))  # type: ignore[arg-type]
    return sorted(pairs)


def substitutions(
    questions: list[tuple[str, str]], pairs: list[tuple[str, str]], category: str, rng: random.Random
) -> Iterator[Row]:
    """Questions holding one word of a pair, with it replaced by the other."""
    by_word: dict[str, list[str]] = defaultdict(list)
    for a, b in pairs:
        by_word[a.lower()].append(b)
        by_word[b.lower()].append(a)
    order = list(range(len(questions)))
    rng.shuffle(order)
    for i in order:
        text, source = questions[i]
        for token in re.findall(r"[\w'+#/\-]+", text):
            others = by_word.get(token.lower())
            if not others:
                continue
            other = rng.choice(others)
            edited = _replace_word(text, token, other)
            if edited and edited != text:
                yield {
                    "category": category,
                    "edit": "/".join(sorted((token.lower(), other.lower()))),
                    "cached": text,
                    "asked": edited,
                    "source": source,
                }
                break


def _number_rows(questions: list[tuple[str, str]], rng: random.Random) -> Iterator[Row]:
    order = list(range(len(questions)))
    rng.shuffle(order)
    for i in order:
        text, source = questions[i]
        match = re.search(r"(?<![\w.,])(\d{1,4})(?![\w.,]|\.\d)", text)
        if match is None:
            continue
        value = int(match.group(1))
        other = value + rng.choice([1, 2, 10, -1]) if value > 1 else value + 2
        small = 0 < value < len(ROMAN) and 0 < other < len(ROMAN)
        style = rng.choice(["digits", "word", "roman", "roman", "script"] if small else ["digits", "script"])
        if style == "word" and other < len(NUMBER_WORDS):
            written, edit = NUMBER_WORDS[other], f"word:{value}/{other}"
        elif style == "roman" and 0 < other < len(ROMAN) and 0 < value < len(ROMAN):
            # Both sides Roman: "World War II" / "World War I".
            text = text[: match.start()] + ROMAN[value] + text[match.end() :]
            written, edit = ROMAN[other], f"roman:{value}/{other}"
        elif style == "script":
            script = rng.choice(sorted(SCRIPTS))
            written = "".join(SCRIPTS[script][int(d)] for d in str(other))
            edit = f"{script}:{value}/{other}"
        else:
            written, edit = str(other), f"digits:{value}/{other}"
        start = text.find(ROMAN[value]) if edit.startswith("roman") else match.start()
        end = start + (len(ROMAN[value]) if edit.startswith("roman") else len(match.group(1)))
        asked = text[:start] + written + text[end:]
        if asked != text:
            yield {"category": "number", "edit": edit, "cached": text, "asked": asked, "source": source}


def _negation_rows(questions: list[tuple[str, str]], rng: random.Random) -> Iterator[Row]:
    order = list(range(len(questions)))
    rng.shuffle(order)
    for i in order:
        text, source = questions[i]
        negated = NEGATED.search(text)
        if negated:
            asked = text[: negated.start()] + negated.group(1) + text[negated.end() :]
            edit = f"drop:{negated.group(1).lower()}"
        else:
            aux = AUXILIARIES.search(text)
            if aux is None or aux.group(2).lower() in {"not", "i", "you", "we", "they", "he", "she", "it"}:
                continue
            asked = text[: aux.end(1)] + " not" + text[aux.end(1) :]
            edit = f"add:{aux.group(1).lower()}"
        yield {"category": "negation", "edit": edit, "cached": text, "asked": asked, "source": source}


def _swap_rows(questions: list[tuple[str, str]], rng: random.Random) -> Iterator[Row]:
    for text, source in questions:
        for pattern, a, b in ((FROM_TO, 1, 2), (X_TO_Y, 2, 4), (COMPARATIVE, 1, 3)):
            match = pattern.search(text)
            if match is None or match.group(a).lower() == match.group(b).lower():
                continue
            spans = sorted(
                [
                    (match.start(a), match.end(a), match.group(b)),
                    (match.start(b), match.end(b), match.group(a)),
                ]
            )
            asked = text
            for start, end, word in reversed(spans):
                asked = asked[:start] + word + asked[end:]
            edit = "/".join(sorted((match.group(a).lower(), match.group(b).lower())))
            yield {"category": "swap", "edit": edit, "cached": text, "asked": asked, "source": source}
            break
    # Templates over the same lists: conversions, travel, translation, comparison.
    templates: list[tuple[str, list[str]]] = [
        ("How do I convert {a} to {b}?", [u for group in UNITS for u in group]),
        ("What is the best way to get from {a} to {b}?", CITIES),
        ("How do I translate a sentence from {a} to {b}?", NATURAL),
        ("Is {a} faster than {b}?", PROGRAMMING),
        ("Is {a} more powerful than {b}?", COUNTRIES),
        ("How do I port my code from {a} to {b}?", PROGRAMMING),
        ("Why is {a} richer than {b}?", COUNTRIES),
        ("How long is the flight from {a} to {b}?", CITIES),
    ]
    for template, words in templates:
        for _ in range(30):
            a, b = rng.sample(words, 2)
            yield {
                "category": "swap",
                "edit": "/".join(sorted((a.lower(), b.lower()))),
                "cached": template.format(a=a, b=b),
                "asked": template.format(a=b, b=a),
                "source": "template",
            }


def _version_rows(questions: list[tuple[str, str]], rng: random.Random) -> Iterator[Row]:
    names = {name.lower(): versions for name, versions in VERSIONED}
    for text, source in questions:
        match = re.search(
            r"\b(" + "|".join(re.escape(n) for n, _ in VERSIONED) + r")[ -]?(\w+(?:\.\w+)?)", text, re.I
        )
        if match is None or match.group(2) not in names[match.group(1).lower()]:
            continue
        versions = [v for v in names[match.group(1).lower()] if v != match.group(2)]
        other = rng.choice(versions)
        asked = text[: match.start(2)] + other + text[match.end(2) :]
        edit = f"{match.group(1).lower()}:{'/'.join(sorted((match.group(2), other)))}"
        yield {"category": "version", "edit": edit, "cached": text, "asked": asked, "source": source}
    for name, versions in VERSIONED:
        for template in (
            "What is new in {n} {v}?",
            "How do I upgrade to {n} {v}?",
            "Is {n} {v} still supported?",
            "What are the main problems with {n} {v}?",
        ):
            a, b = rng.sample(versions, 2)
            yield {
                "category": "version",
                "edit": f"{name.lower()}:{'/'.join(sorted((a, b)))}",
                "cached": template.format(n=name, v=a),
                "asked": template.format(n=name, v=b),
                "source": "template",
            }


def _unit_rows(questions: list[tuple[str, str]], rng: random.Random) -> Iterator[Row]:
    pairs = [(a, b) for group in UNITS for a in group for b in group if a < b]
    yield from substitutions(questions, pairs, "unit", rng)
    for group in UNITS:
        for template in ("How many {u} are in 5 {v}?", "What is 100 {u} in {v}?", "Convert 3 {u} to {v}"):
            a, b, *_ = rng.sample(group, len(group))
            v = rng.choice([g for g in (UNITS[rng.randrange(len(UNITS))]) if g not in (a, b)] or ["units"])
            yield {
                "category": "unit",
                "edit": "/".join(sorted((a.lower(), b.lower()))),
                "cached": template.format(u=a, v=v),
                "asked": template.format(u=b, v=v),
                "source": "template",
            }


def _pairs_of(words: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(words) for b in words[i + 1 :]]


def near_misses(questions: list[tuple[str, str]], rng: random.Random) -> list[Row]:
    vocabulary: Counter[str] = Counter(
        w for text, _ in questions for w in re.findall(r"[a-z]+", text.lower())
    )
    generators: dict[str, Callable[[], Iterator[Row]]] = {
        "antonym": lambda: substitutions(questions, load_antonyms(vocabulary, 30), "antonym", rng),
        "modifier": lambda: substitutions(questions, MODIFIERS, "modifier", rng),
        "swap": lambda: _swap_rows(questions, rng),
        "number": lambda: _number_rows(questions, rng),
        "negation": lambda: _negation_rows(questions, rng),
        "entity": lambda: substitutions(
            questions,
            _pairs_of(COUNTRIES) + _pairs_of(CITIES) + _pairs_of(PEOPLE) + _pairs_of(COMPANIES),
            "entity",
            rng,
        ),
        "unit": lambda: _unit_rows(questions, rng),
        "version": lambda: _version_rows(questions, rng),
        "language": lambda: substitutions(
            questions, _pairs_of(PROGRAMMING) + _pairs_of(NATURAL), "language", rng
        ),
    }
    rows: list[Row] = []
    for make in generators.values():
        taken: list[Row] = []
        per_edit: Counter[str] = Counter()
        seen: set[str] = set()
        for row in make():
            # At most a few rows per edit, so one common word pair does not fill a category.
            if per_edit[row["edit"]] >= 4 or row["cached"] in seen or row["cached"] == row["asked"]:
                continue
            per_edit[row["edit"]] += 1
            seen.add(row["cached"])
            taken.append(row)
            if len(taken) >= PER_CATEGORY:
                break
        rows += taken
    return rows


def split_by_edit(rows: list[Row], rng: random.Random) -> None:
    """Half of each category's edits go to held-out, with every row that uses them."""
    by_category: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        key = row["edit"]
        if key not in by_category[row["category"]]:
            by_category[row["category"]].append(key)
    held: set[tuple[str, str]] = set()
    for category, edits in by_category.items():
        edits = sorted(edits)
        rng.shuffle(edits)
        held |= {(category, e) for e in edits[: len(edits) // 2]}
    for row in rows:
        row["split"] = "heldout" if (row["category"], row["edit"]) in held else "dev"


def paraphrases(data: Path, rng: random.Random) -> list[Row]:
    with gzip.open(data / "quora_duplicate_pairs.json.gz", "rt", encoding="utf-8") as f:
        quora = json.load(f)
    picked = rng.sample(range(len(quora)), PARAPHRASES)
    rows = [
        {
            "category": "quora-duplicate",
            "cached": quora[i]["origin"].strip(),
            "asked": quora[i]["similar"].strip(),
            "source": f"quora:{i}",
            "split": "heldout" if n % 2 else "dev",
        }
        for n, i in enumerate(picked)
    ]
    return rows


def write(path: Path, rows: list[Row]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> int:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/semantic-cache")
    rng = random.Random(SEED)
    questions = load_questions(data)
    rows = near_misses(questions, rng)
    split_by_edit(rows, rng)
    para = paraphrases(data, rng)
    OUT.mkdir(exist_ok=True)
    for split in ("dev", "heldout"):
        write(OUT / f"cache_near_miss_{split}.jsonl", [r for r in rows if r["split"] == split])
        write(OUT / f"cache_paraphrase_{split}.jsonl", [r for r in para if r["split"] == split])
    counts = Counter((r["category"], r["split"]) for r in rows)
    for category in sorted({c for c, _ in counts}):
        print(
            f"{category:>9}: dev {counts[(category, 'dev')]:>4}  held-out {counts[(category, 'heldout')]:>4}"
        )
    print(f"near misses: {len(rows)}; paraphrases: {len(para)} (Quora duplicates, half held out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
