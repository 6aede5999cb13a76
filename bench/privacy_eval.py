"""Privacy evaluation on the split sets of bench/privacy_data.py, by category, beside baselines.

    .venv/bin/python bench/privacy_eval.py [--split heldout|dev] [--show N]

Detectors compared in one run: this build's detector; a regex-only baseline (the detector as
it stood before these sets existed, frozen in bench/privacy_baseline.py); and Presidio alone
(its pattern recognizers on a blank spaCy pipeline: no trained model is packaged offline,
so its name/location recognizers find nothing). bench/routing_eval.py prints the same.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT / "bench"))
GOALS = {"recall": 99.5, "fp": 3.0}
# Presidio entities that are private by this project's rule (not DATE_TIME, URL, IP, LOCATION...).
PRESIDIO_PRIVATE = [
    "CREDIT_CARD", "CRYPTO", "EMAIL_ADDRESS", "IBAN_CODE", "US_BANK_NUMBER", "US_SSN", "US_ITIN",
    "US_PASSPORT", "US_DRIVER_LICENSE", "UK_NHS", "PHONE_NUMBER", "MEDICAL_LICENSE", "PERSON",
]  # fmt: skip

Judge = Callable[[str], bool]


def load(split: str) -> list[dict[str, Any]]:
    path = DATA / f"privacy_{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def roundhouse_judge() -> Judge:
    from roundhouse.daemon.routing.privacy import PrivacyDetector

    return PrivacyDetector().is_private


def regex_baseline_judge() -> Judge:
    from privacy_baseline import PrivacyDetector as Baseline  # type: ignore[import-not-found]

    return Baseline().is_private


def presidio_judge() -> tuple[Judge | None, str]:
    """Presidio's analyzer with a blank English pipeline, or None and why it cannot run."""
    try:
        import logging

        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError as exc:
        return None, f"not installed ({exc.name}); pip install -e '.[bench]'"
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)

    class BlankEnglish(SpacyNlpEngine):  # type: ignore[misc]
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankEnglish(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

    def judge(text: str) -> bool:
        return bool(analyzer.analyze(text, language="en", entities=PRESIDIO_PRIVATE, score_threshold=0.4))

    judge("warm up: call 020 7946 0958")
    return judge, "pattern recognizers only (blank spaCy pipeline, score >= 0.4)"


def evaluate(rows: list[dict[str, Any]], judge: Judge) -> dict[str, Any]:
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [flagged, total]
    times: list[float] = []
    wrong: list[dict[str, Any]] = []
    for row in rows:
        t0 = time.perf_counter()
        flagged = judge(row["text"])
        times.append((time.perf_counter() - t0) * 1000)
        cell = by_category[row["category"]]
        cell[0] += flagged
        cell[1] += 1
        if flagged != row["private"]:
            wrong.append(row)
    positives = [r for r in rows if r["private"]]
    negatives = [r for r in rows if not r["private"]]
    missed = sum(1 for r in wrong if r["private"])
    false = sum(1 for r in wrong if not r["private"])
    ordered = sorted(times)
    return {
        "recall": 100 * (len(positives) - missed) / max(1, len(positives)),
        "fp": 100 * false / max(1, len(negatives)),
        "caught": len(positives) - missed,
        "positives": len(positives),
        "false": false,
        "negatives": len(negatives),
        "by_category": dict(by_category),
        "p50_ms": statistics.median(times),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "wrong": wrong,
    }


NOTES = {
    "dev": "tuned on",
    "heldout": "families never tuned on; evaluated once, then seen: fixes followed",
    "heldout2": "written after that first look, never tuned on",
}


def masking_round_trip(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each private row masked as for a cloud model: how many of its recorded private values are
    still in the masked text (leaks), and whether a cloud answer that echoes the masked text,
    streamed in pieces of random size, comes back to the client as the original (restored)."""
    import random

    from roundhouse.daemon.routing.masking import Masker, Restorer
    from roundhouse.daemon.routing.privacy import PrivacyDetector

    detector = PrivacyDetector()
    rng = random.Random(7)
    values = leaked = restored = masked_rows = 0
    leaks: list[str] = []
    for row in rows:
        if not row["private"] or not row.get("values"):
            continue
        masker = Masker(detector)
        masked = masker.mask(row["text"])
        masked_rows += 1
        for value in row["values"]:
            values += 1
            if value in masked:
                leaked += 1
                leaks.append(f"{row['category']}: {json.dumps(row['text'][:90])}")
        restorer = Restorer(masker.values)
        out, cursor = [], 0
        while cursor < len(masked):
            size = rng.randint(1, 6)
            out.append(restorer.feed(masked[cursor : cursor + size]))
            cursor += size
        out.append(restorer.flush())
        restored += "".join(out) == row["text"]
    return {"rows": masked_rows, "values": values, "leaked": leaked, "restored": restored, "leaks": leaks}


def report(split: str = "heldout2", show: int = 0) -> tuple[list[str], dict[str, Any]]:
    rows = load(split)
    judges: dict[str, Judge | None] = {
        "roundhouse": roundhouse_judge(),
        "regex-only": regex_baseline_judge(),
    }
    presidio, presidio_note = presidio_judge()
    judges["presidio-only"] = presidio
    results = {name: evaluate(rows, judge) for name, judge in judges.items() if judge is not None}
    positives = sum(r["private"] for r in rows)
    lines = [
        f"privacy, {split} split: bench/data/privacy_{split}.jsonl ({positives} private, "
        f"{len(rows) - positives} benign; {NOTES[split]})",
        f"  presidio-only: {presidio_note}",
        f"  {'category':34s}" + "".join(f"{name:>15s}" for name in results),
    ]
    categories = sorted({r["category"] for r in rows}, key=lambda c: (c.startswith("hard"), c))
    for category in categories:
        cells = []
        for result in results.values():
            flagged, total = result["by_category"][category]
            cells.append(f"{100 * flagged / total:7.1f}% {flagged:3d}/{total:<3d}")
        label = ("flagged (FP) " if category.startswith("hard") else "caught ") + category
        lines.append(f"  {label:34s}" + "".join(f"{c:>15s}" for c in cells))
    for name, result in results.items():
        ok = result["recall"] >= GOALS["recall"] and result["fp"] <= GOALS["fp"]
        lines.append(
            f"  {name:14s} recall {result['recall']:6.2f} % ({result['caught']}/{result['positives']})  "
            f"false positives {result['fp']:5.2f} % ({result['false']}/{result['negatives']})  "
            f"p50 {result['p50_ms']:.3f} ms  p95 {result['p95_ms']:.3f} ms  "
            f"goal recall >= {GOALS['recall']} % and FP <= {GOALS['fp']} %: {'PASS' if ok else 'FAIL'}"
        )
    trip = masking_round_trip(rows)
    results["masking"] = trip
    lines.append(
        f"  masking round trip ({trip['rows']} private rows with recorded values, mask mode): "
        f"values left in what the cloud gets {trip['leaked']}/{trip['values']} (goal 0); answers restored "
        f"{100 * trip['restored'] / max(1, trip['rows']):.1f} % "
        f"({trip['restored']}/{trip['rows']}, goal 100 %)"
    )
    for leak in trip["leaks"][:show]:
        lines.append(f"    leaked {leak}")
    for row in results["roundhouse"]["wrong"][:show]:
        what = "missed" if row["private"] else "false positive"
        lines.append(f"    {what} [{row['category']}] {json.dumps(row['text'][:140])}")
    return lines, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout2", choices=["heldout2", "heldout", "dev"])
    parser.add_argument("--show", type=int, default=0, help="print this many of the detector's mistakes")
    args = parser.parse_args()
    lines, results = report(args.split, args.show)
    print("\n".join(lines))
    mine = results["roundhouse"]
    return 0 if mine["recall"] >= GOALS["recall"] and mine["fp"] <= GOALS["fp"] else 1


if __name__ == "__main__":
    sys.exit(main())
