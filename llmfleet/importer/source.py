"""Reading the files an import starts from: YAML with the line of every key kept.

The importer must point at the exact line of a mistake, and must read a LiteLLM config the way
LiteLLM does. LiteLLM loads its config with PyYAML (YAML 1.1: ``yes`` is a boolean, a repeated key
silently replaces the earlier one), so :func:`load_yaml` reads it through llmfleet's one YAML layer
(:mod:`llmfleet.inventory.yamlsource`, bounded like inventories) with those semantics, records the
lines of every key and value, and lists the repeated keys (a repeated ``litellm_settings:`` block is
a real mistake in one seed). Compose files are read with the YAML 1.2 core schema, as Compose does.

Bad input (missing file, not YAML, not a mapping) raises :class:`ImportInputError`, which always
names the file and, when known, the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmfleet.inventory.problems import FieldPath, printable
from llmfleet.inventory.yamlsource import Duplicate, Located, YamlSourceError, parse_yaml, read_text

__all__ = ["Duplicate", "ImportInputError", "Span", "YamlSource", "load_yaml"]


class ImportInputError(Exception):
    """An import input cannot be read: missing, not YAML, or not the expected structure."""

    def __init__(self, file: str, line: int | None, message: str):
        self.file = file
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return printable(f"{where}: {self.message}")


@dataclass(frozen=True)
class Span:
    """Where a value sits in its file (1-based lines): its key's line and the value's extent."""

    key_line: int
    start: int
    end: int


@dataclass
class YamlSource:
    """A parsed YAML file: plain data, the span of every path, and the repeated keys."""

    file: str
    text: str
    data: Any
    spans: dict[FieldPath, Span] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)

    def line(self, path: FieldPath) -> int | None:
        """The line of ``path``'s key, or of its nearest ancestor that exists."""
        for end in range(len(path), 0, -1):
            span = self.spans.get(tuple(path[:end]))
            if span is not None:
                return span.key_line
        return None

    def find_line(self, path: FieldPath, needle: str) -> int | None:
        """The first line inside ``path``'s value that contains ``needle`` (else the key's line)."""
        span = self.spans.get(tuple(path))
        if span is not None:
            lines = self.text.splitlines()
            for number in range(span.start, min(span.end, len(lines)) + 1):
                if needle in lines[number - 1]:
                    return number
        return self.line(path)


def load_yaml(path: Path, *, what: str, yaml_1_1: bool = False) -> YamlSource:
    """Load ``path`` (a ``what``, for messages) into a :class:`YamlSource` whose data is a mapping.

    ``yaml_1_1`` reads the file as PyYAML (and so LiteLLM) does; otherwise with the YAML 1.2 core
    schema (Docker Compose). Reading is bounded as for inventories (size, depth, aliases).
    """
    file = str(path)
    try:
        text = read_text(path, file)
        found: list[Duplicate] = []
        data, loc = parse_yaml(text, file, schema="1.1" if yaml_1_1 else "1.2", duplicates="record", found=found)
    except YamlSourceError as exc:
        message = exc.problem.message
        if message.startswith("cannot read: No such file"):
            message = f"no such file (expected a {what})"
        elif message.startswith("is a directory"):
            message = f"is a directory, not a {what}"
        elif message.startswith("invalid YAML: "):
            message = "not valid YAML: " + message.removeprefix("invalid YAML: ")
        raise ImportInputError(file, exc.problem.line, message) from None
    if loc.start == 0:
        raise ImportInputError(file, None, f"is empty (expected a {what})")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise ImportInputError(file, loc.start, f"the top level is {kind}, not a mapping (expected a {what})")
    source = YamlSource(file=file, text=text, data=data, duplicates=found)
    _record_spans(source.spans, loc, ())
    return source


def _record_spans(spans: dict[FieldPath, Span], loc: Located, path: FieldPath) -> None:
    for key, child in loc.children.items():
        child_path = (*path, key if isinstance(key, str | int) and not isinstance(key, bool) else str(key))
        spans[child_path] = Span(key_line=child.line, start=min(child.start, child.line), end=max(child.end, child.line))
        _record_spans(spans, child, child_path)
