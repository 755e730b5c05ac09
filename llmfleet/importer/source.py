"""Reading the files an import starts from: YAML with the line of every key kept.

The importer must point at the exact line of a mistake, and must read a LiteLLM config the way
LiteLLM does. LiteLLM loads its config with PyYAML (YAML 1.1: ``yes`` is a boolean, a repeated key
silently replaces the earlier one), so :func:`load_yaml` walks ruamel.yaml's node tree itself:
it builds plain Python data with those semantics, records the lines of every key and value, and
lists the repeated keys (a repeated ``litellm_settings:`` block is a real mistake in one seed).

Bad input (missing file, not YAML, not a mapping) raises :class:`ImportInputError`, which always
names the file and, when known, the line.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from llmfleet.inventory.problems import FieldPath

MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 64


class ImportInputError(Exception):
    """An import input cannot be read: missing, not YAML, or not the expected structure."""

    def __init__(self, file: str, line: int | None, message: str):
        self.file = file
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Span:
    """Where a value sits in its file (1-based lines): its key's line and the value's extent."""

    key_line: int
    start: int
    end: int


@dataclass(frozen=True)
class Duplicate:
    """A mapping key given twice; like PyYAML, the later value wins."""

    path: FieldPath
    first_line: int
    line: int


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

    ``yaml_1_1`` reads the file as PyYAML (and so LiteLLM) does.
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImportInputError(file, None, f"no such file (expected a {what})") from None
    except IsADirectoryError:
        raise ImportInputError(file, None, f"is a directory, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise ImportInputError(file, None, f"is not UTF-8 text ({exc.reason}); expected a {what}") from None
    except OSError as exc:
        raise ImportInputError(file, None, f"cannot be read: {exc.strerror}") from None

    yaml = YAML(typ="safe", pure=True)
    if yaml_1_1:
        yaml.version = (1, 1)
    try:
        root = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ImportInputError(file, line, f"not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise ImportInputError(file, None, f"not valid YAML: {exc}") from None
    if root is None:
        raise ImportInputError(file, None, f"is empty (expected a {what})")
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise ImportInputError(file, root.start_mark.line + 1, f"the top level is {kind}, not a mapping (expected a {what})")
    source = YamlSource(file=file, text=text, data=None)
    source.data = _Walker(yaml, source).value(root, (), 0)
    return source


class _Walker:
    """Turns a node tree into plain data while filling in spans and duplicates."""

    def __init__(self, yaml: YAML, source: YamlSource):
        self.constructor = yaml.constructor
        self.source = source

    def value(self, node: Node, path: FieldPath, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ImportInputError(self.source.file, node.start_mark.line + 1, "nesting is too deep")
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            out = []
            for index, item in enumerate(node.value):
                self.record((*path, index), item.start_mark.line + 1, item)
                out.append(self.value(item, (*path, index), depth + 1))
            return out
        return self.scalar(node)

    def scalar(self, node: Node) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, TypeError):
            return str(node.value)
        if isinstance(value, (datetime.date, datetime.datetime)):
            return str(node.value)
        if isinstance(value, bytes):
            return str(node.value)
        return value

    def mapping(self, node: MappingNode, path: FieldPath, depth: int) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        explicit: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if isinstance(source, MappingNode):
                        for key, value in self.mapping(source, path, depth + 1).items():
                            merged.setdefault(key, value)
                continue
            key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else "<complex key>"
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            key_line = key_node.start_mark.line + 1
            child = (*path, key if isinstance(key, str) else str(key))
            if key in explicit:
                self.source.duplicates.append(Duplicate(child, first_line[key], key_line))
            first_line.setdefault(key, key_line)
            self.record(child, key_line, value_node)
            explicit[key] = self.value(value_node, child, depth + 1)
        merged.update(explicit)
        return merged

    def record(self, path: FieldPath, key_line: int, value: Node) -> None:
        start = value.start_mark.line + 1
        end = value.end_mark.line + 1
        # A block value's end mark sits on the line after it when it ends with a line break.
        if end > start and value.end_mark.column == 0:
            end -= 1
        self.source.spans[path] = Span(key_line=key_line, start=min(start, key_line), end=max(end, key_line))
