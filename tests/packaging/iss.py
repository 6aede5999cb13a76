"""Just enough of Inno Setup's script format to check installer.iss: ISPP `#define`s, sections,
`Key=Value` directives and `Name: value; Name: value` entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_DEFINE = re.compile(r'^#define\s+(\w+)\s+"([^"]*)"\s*$')
_SECTION = re.compile(r"^\[(\w+)\]\s*$")
_USE = re.compile(r"\{#(\w+)\}")


@dataclass
class InnoScript:
    defines: dict[str, str] = field(default_factory=dict)
    # Section name -> its lines, with ISPP defines substituted and comments dropped.
    sections: dict[str, list[str]] = field(default_factory=dict)

    def setup(self) -> dict[str, str]:
        directives: dict[str, str] = {}
        for line in self.sections.get("Setup", []):
            key, _, value = line.partition("=")
            directives[key.strip()] = value.strip()
        return directives

    def entries(self, section: str) -> list[dict[str, str]]:
        return [parse_entry(line) for line in self.sections.get(section, [])]

    def code(self) -> str:
        return "\n".join(self.sections.get("Code", []))


def parse_entry(line: str) -> dict[str, str]:
    """`Name: "a b"; Flags: x y` -> {"Name": "a b", "Flags": "x y"} (quotes doubled inside a value)."""
    fields: dict[str, str] = {}
    pattern = re.compile(r'\s*(\w+)\s*:\s*("(?:[^"]|"")*"|[^;]*)\s*(?:;|$)')
    for match in pattern.finditer(line):
        key, raw = match.group(1), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace('""', '"')
        fields[key] = raw
    return fields


def load(path: Path) -> InnoScript:
    script = InnoScript()
    section: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        define = _DEFINE.match(line)
        if define:
            script.defines.setdefault(define.group(1), define.group(2))
            continue
        if line.startswith("#"):  # other preprocessor lines (#ifndef, #endif)
            continue
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
            script.sections.setdefault(section, [])
            continue
        if section is None or not line or (section != "Code" and line.startswith(";")):
            continue
        script.sections[section].append(_USE.sub(lambda m: script.defines[m.group(1)], line))
    return script
