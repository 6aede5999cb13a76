"""Fast rule features of a prompt and the tier they point to, with no model involved."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from roundhouse.daemon.routing.settings import TIERS

_CODE = re.compile(
    r"```|^\s*(?:def|class|import|from|function|const|let|var|public|private|fn|func|package|#include)\b"
    r"|[{};]\s*$|=>|->|\b(?:Traceback|Exception|TypeError|ValueError|segfault|stack trace)\b",
    re.MULTILINE,
)
_CODE_WORDS = re.compile(
    r"\b(?:python|javascript|typescript|rust|golang|java|c\+\+|sql|regex|function|class|method|api|"
    r"bug|compile|refactor|script|query|endpoint|docker|kubernetes|async|thread|unit tests?)\b",
    re.IGNORECASE,
)
_MATH = re.compile(
    r"\\(?:frac|int|sum|prod|sqrt|lim|forall|exists)|\$[^$]+\$|[∫∑∏√≤≥≠∀∃]|\b\d+\s*[\^*/]\s*\d+"
    r"|\b(?:integral|derivative|eigen\w*|theorem|lemma|probability|matrix|equation|polynomial|"
    r"modulo|prime|induction|convergen\w*|optimi[sz]ation)\b",
    re.IGNORECASE,
)
_REASONING = re.compile(
    r"\b(?:prove|proof|derive|deriv\w+|reason(?:ing)?|justify|why does|why do|why is|trade-?offs?|"
    r"analy[sz]e|evaluate|compare|critique|implications?|edge cases?|root cause|counterexample|"
    r"what would happen|under what conditions|rigorous\w*|formal\w*|complexity of|big-o)\b",
    re.IGNORECASE,
)
_MULTISTEP = re.compile(
    r"\b(?:step[- ]by[- ]step|first\b.*\bthen|then\b.*\bfinally|design|architect\w*|plan|strategy|"
    r"migrat\w+|end-to-end|production|scal\w+|distributed|comprehensive|in depth|detailed|"
    r"multiple|several|each of|for each|roadmap|implement\w*)\b",
    re.IGNORECASE | re.DOTALL,
)
_FRONTIER = re.compile(
    r"\b(?:research|novel|state[- ]of[- ]the[- ]art|literature|whitepaper|thesis|full (?:system|app\w*)|"
    r"entire|complete (?:implementation|system)|across the codebase|security audit|formal verification|"
    r"legal|contract|regulat\w+|compliance|publication|peer review)\b",
    re.IGNORECASE,
)
_TRIVIAL = re.compile(
    r"^\s*(?:hi|hello|hey|thanks|thank you|ok|okay|good (?:morning|night)|yes|no|sure)\b"
    r"|\b(?:translate|synonym|antonym|spell|capital of|define|what time|convert \d|how many \w+ in a|"
    r"fix (?:the )?typo|rephrase|one word|in a word|title for|emoji)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Features:
    chars: int
    words: int
    lines: int
    questions: int
    code: int
    code_words: int
    math: int
    reasoning: int
    multistep: int
    frontier: int
    trivial: int

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def extract(text: str) -> Features:
    return Features(
        chars=len(text),
        words=len(text.split()),
        lines=text.count("\n") + 1,
        questions=text.count("?"),
        code=len(_CODE.findall(text)),
        code_words=len(_CODE_WORDS.findall(text)),
        math=len(_MATH.findall(text)),
        reasoning=len(_REASONING.findall(text)),
        multistep=len(_MULTISTEP.findall(text)),
        frontier=len(_FRONTIER.findall(text)),
        trivial=len(_TRIVIAL.findall(text)),
    )


# Weights from a least-squares fit of the tier index (fast 0 … cloud 3) on the shipped examples.
_WEIGHTS = {
    "bias": -1.741,
    "log_words": 1.169,
    "code": -0.279,
    "code_words": -0.062,
    "math": 0.195,
    "reasoning": 0.159,
    "multistep": 0.171,
    "frontier": 0.184,
    "trivial": -0.269,
    "questions": 0.1,  # the fit is indifferent; several questions in one prompt are more work
    "short": -0.087,
}


def score(features: Features) -> float:
    """The tier the rules point to, as a number: about 0 for small talk, 1 for ordinary work,
    2 for reasoning, 3 for frontier work."""
    w = _WEIGHTS
    s = (
        w["bias"]
        + w["log_words"] * math.log1p(min(features.words, 600))
        + w["code"] * min(features.code, 6)
        + w["code_words"] * min(features.code_words, 4)
        + w["math"] * min(features.math, 4)
        + w["reasoning"] * min(features.reasoning, 4)
        + w["multistep"] * min(features.multistep, 5)
        + w["frontier"] * min(features.frontier, 3)
        + w["trivial"] * min(features.trivial, 2)
        + w["questions"] * min(max(features.questions - 1, 0), 4)
        + w["short"] * (features.words <= 6)
    )
    return max(s, 0.0)


def tier_distribution(value: float) -> dict[str, float]:
    """Soft one-hot around the tier the score points to, so the k-NN vote can outweigh it."""
    position = min(max(value, 0.0), len(TIERS) - 1.0)
    weights = {tier: max(0.0, 1.0 - abs(position - index)) for index, tier in enumerate(TIERS)}
    total = sum(weights.values()) or 1.0
    return {tier: w / total for tier, w in weights.items()}
