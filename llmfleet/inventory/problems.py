"""Problems found in an inventory, located by file, line and field path.

Every part that judges an inventory (schema, cross-checks, rendered-file validation, import)
reports :class:`Problem` objects; they are collected, all reported at once, and turned into an
exit code of 2 by the CLI.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

PathPart = str | int
FieldPath = tuple[PathPart, ...]
Severity = Literal["error", "warning"]


def format_path(path: Sequence[PathPart]) -> str:
    """Render a field path as ``models[3].backend``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def printable(text: str) -> str:
    """``text`` safe for a terminal and a log line: secret-shaped substrings redacted, control characters
    (line breaks, ANSI escapes, U+2028, bidi overrides) written as ``\\xNN``/``\\uNNNN``."""
    from llmfleet.inventory.secrets import redact
    from llmfleet.inventory.types import control_character

    text = redact(text)
    if control_character(text) is None:
        return text
    return "".join(ch if control_character(ch) is None else ch.encode("unicode_escape").decode("ascii") for ch in text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) with an inventory or a rendered file."""

    path: FieldPath
    message: str
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None

    def located(self, file: str | None, line: int | None) -> Problem:
        """A copy with a source location."""
        return replace(self, file=file, line=line)

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}" if self.line else self.file
            where += " "
        prefix = "warning: " if self.severity == "warning" else ""
        return printable(f"{where}{format_path(self.path)}: {prefix}{self.message}")


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """Only the problems that are errors."""
    return [p for p in problems if p.severity == "error"]


class InventoryError(Exception):
    """The inventory has errors; ``problems`` lists every one (and the warnings)."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
