"""Builds the near-miss guard's word lists from WordNet 3.0: daemon/cache/antonyms.txt (opposite
words) and daemon/cache/synonyms.txt (words that may stand for each other).

    apt-get install wordnet-base && .venv/bin/python bench/cache_wordnet.py [/usr/share/wordnet]

Direct antonyms (WordNet's "!" pointers between words) and, for adjectives, indirect ones: a
satellite ("soft" is similar to "yielding") opposes the head its head is the antonym of. Synonyms:
the single words of each synset, among words WordNet's sense-tagged corpus has seen (cntlist.rev).
Only single words of letters are kept. WordNet 3.0 is © Princeton University, under a BSD-style
licence that allows redistribution of derived data with its notice (kept in the file header).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "daemon" / "cache" / "antonyms.txt"
SYNONYMS = OUT.with_name("synonyms.txt")
VERBS = OUT.with_name("verbs.txt")
HEADER = (
    "# {what}, derived from WordNet 3.0 by\n"
    "# bench/cache_wordnet.py. WordNet 3.0 Copyright 2006 by Princeton University. All rights\n"
    "# reserved. Permission to use, copy, modify and distribute this data for any purpose and\n"
    "# without fee is granted, provided this notice appears in all copies. THE DATA IS PROVIDED\n"
    '# "AS IS" WITHOUT WARRANTY OF ANY KIND.\n'
)
POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}

Synset = tuple[str, str]  # (pos file, offset)


def _word(raw: str) -> str:
    return raw.split("(", 1)[0].lower()


def read(root: Path) -> tuple[dict[Synset, list[str]], list[tuple[str, str]], dict[Synset, list[Synset]]]:
    words: dict[Synset, list[str]] = {}
    pointers: list[tuple[Synset, int, Synset, int]] = []
    similar: dict[Synset, list[Synset]] = defaultdict(list)
    for pos in ("adj", "adv", "noun", "verb"):
        for line in (root / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split(" | ", 1)[0].split()
            here: Synset = (pos, fields[0])
            count = int(fields[3], 16)
            words[here] = [_word(fields[4 + 2 * i]) for i in range(count)]
            i = 4 + 2 * count
            for _ in range(int(fields[i])):
                symbol, offset, target_pos, source_target = fields[i + 1 : i + 5]
                i += 4
                there: Synset = (POS[target_pos], offset)
                if symbol == "!":
                    pointers.append((here, int(source_target[:2], 16), there, int(source_target[2:], 16)))
                elif symbol == "&" and fields[2] == "s":
                    similar[here].append(there)
    direct: list[tuple[str, str]] = []
    for here, source, there, target in pointers:
        direct.append((words[here][source - 1], words[there][target - 1]))
    return words, direct, similar


def build(root: Path) -> dict[str, set[str]]:
    words, direct, similar = read(root)
    opposite: dict[str, set[str]] = defaultdict(set)
    for a, b in direct:
        opposite[a].add(b)
        opposite[b].add(a)
    direct_only = {w: set(o) for w, o in opposite.items()}
    # Indirect antonyms: every word of a satellite opposes the antonyms of its head.
    for synset, heads in similar.items():
        for head in heads:
            for head_word in words.get(head, []):
                for far in direct_only.get(head_word, ()):
                    for word in words[synset]:
                        opposite[word].add(far)
                        opposite[far].add(word)
    return {
        w: {o for o in others if o.isalpha() and o != w}
        for w, others in opposite.items()
        if w.isalpha() and len(w) > 1
    }


def synonym_groups(root: Path) -> list[list[str]]:
    words, _, _ = read(root)
    seen = {line.split()[0].split("%", 1)[0] for line in (root / "cntlist.rev").read_text().splitlines()}
    groups = {tuple(sorted({w for w in ws if w.isalpha() and w in seen})) for ws in words.values()}
    return sorted(list(g) for g in groups if len(g) >= 2)


def verbs(root: Path) -> list[str]:
    """Words the sense-tagged corpus saw used as verbs more often than as anything else."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in (root / "cntlist.rev").read_text().splitlines():
        key, _, count = line.split()
        word, rest = key.split("%", 1)
        if word.isalpha():
            counts[word][rest.startswith("2:")] += int(count)
    return sorted(w for w, (other, verb) in counts.items() if verb > other)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
    table = build(root)
    lines = [f"{w}\t{' '.join(sorted(o))}" for w, o in sorted(table.items()) if o]
    OUT.write_text(
        HEADER.format(what="Opposite words, one word and its opposites a line") + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    print(f"{len(lines)} words with opposites written to {OUT}")
    groups = synonym_groups(root)
    SYNONYMS.write_text(
        HEADER.format(what="Synonyms, one group a line") + "\n".join(" ".join(g) for g in groups) + "\n",
        encoding="utf-8",
    )
    print(f"{len(groups)} synonym groups written to {SYNONYMS}")
    verb_words = verbs(root)
    VERBS.write_text(
        HEADER.format(what="Words used mostly as verbs, one a line") + "\n".join(verb_words) + "\n",
        encoding="utf-8",
    )
    print(f"{len(verb_words)} verbs written to {VERBS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
