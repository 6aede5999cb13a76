"""Run the real-client tests (`pytest -m compat`) and print the client × feature matrix in Markdown.

Every test marked `@pytest.mark.compat(client="...", feature="...")` is one cell; several tests in
one cell count as passed only when all pass. `--write-readme` puts the table in README.md between
`<!-- compat-matrix:start -->` and `<!-- compat-matrix:end -->`.

    bash tests/run.sh .venv/bin/python scripts/compat_matrix.py [--write-readme] [-- PYTEST_ARGS]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- compat-matrix:start -->"
END = "<!-- compat-matrix:end -->"
PASSED, FAILED, SKIPPED, XFAILED = "passed", "failed", "skipped", "xfailed"


@dataclass
class Cell:
    outcomes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def symbol(self) -> str:
        if FAILED in self.outcomes:
            return "❌"
        if XFAILED in self.outcomes:
            return f"❌ known defect: {self._reason()}"
        if PASSED in self.outcomes and SKIPPED not in self.outcomes:
            return "✅"
        if PASSED in self.outcomes:
            return "✅ (partly skipped)"
        return f"skipped: {self._reason()}"

    def _reason(self) -> str:
        reason = "; ".join(dict.fromkeys(r for r in self.reasons if r)) or "no reason given"
        return reason.replace("|", "/").replace("\n", " ")


class CompatCollector:
    """A pytest plugin: the compat mark of each test and how the test ended."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Cell] = {}
        self._marks: dict[str, tuple[str, str]] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            mark = item.get_closest_marker("compat")
            if mark is not None:
                client = mark.kwargs.get("client", mark.args[0] if mark.args else "?")
                feature = mark.kwargs.get("feature", mark.args[1] if len(mark.args) > 1 else "?")
                self._marks[item.nodeid] = (str(client), str(feature))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = self._marks.get(report.nodeid)
        if key is None:
            return
        cell = self.cells.setdefault(key, Cell())
        if report.when == "call" or report.outcome != PASSED:
            outcome = report.outcome
            if hasattr(report, "wasxfail"):
                # A known defect (xfail): it fails, and the matrix says why.
                outcome = PASSED if report.outcome == PASSED else XFAILED
                cell.reasons.append(str(report.wasxfail).removeprefix("reason: "))
            cell.outcomes.append(outcome)
            if report.outcome == SKIPPED and isinstance(report.longrepr, tuple):
                cell.reasons.append(str(report.longrepr[2]).removeprefix("Skipped: "))


def markdown(cells: dict[tuple[str, str], Cell]) -> str:
    clients = sorted({c for c, _ in cells}, key=str.lower)
    features = sorted({f for _, f in cells}, key=str.lower)
    lines = [
        "| client | " + " | ".join(features) + " |",
        "|---" * (len(features) + 1) + "|",
    ]
    for client in clients:
        row = [cells[(client, f)].symbol() if (client, f) in cells else "" for f in features]
        lines.append(f"| {client} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_readme(table: str) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} … {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    stamp = datetime.date.today().isoformat()
    README.write_text(f"{head}{START}\n\n_Generated {stamp}._\n\n{table}\n\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true", help="replace README.md's matrix section")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    collector = CompatCollector()
    plugins: list[Any] = [collector]
    code = pytest.main(["-m", "compat", "-q", "-p", "no:cacheprovider", *args.pytest_args], plugins=plugins)
    if not collector.cells:
        print("no test carries the compat mark", file=sys.stderr)
        return 1
    table = markdown(collector.cells)
    print(table)
    if args.write_readme:
        write_readme(table)
    return 0 if code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) else int(code)


if __name__ == "__main__":
    sys.exit(main())
