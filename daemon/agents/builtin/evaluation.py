"""The built-in evaluation set: questions whose answers a program can check."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]


def load_questions() -> list[Question]:
    text = (resources.files("roundhouse.resources") / "eval" / "questions.jsonl").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(Question(row["id"], row["question"], tuple(a.lower() for a in row["answers"])))
    return out


def is_correct(reply: str, question: Question) -> bool:
    """An accepted answer appears as a whole word (or number) in the reply's first line."""
    first = next((line for line in reply.strip().splitlines() if line.strip()), "").lower()
    for answer in question.answers:
        if re.search(rf"(?<![\w.]){re.escape(answer)}(?![\w]|\.\d)", first):
            return True
    return False
