"""A small, deterministic YAML writer that keeps comments next to the values they explain.

The draft inventory is mostly for a human to finish, so every guess and every placeholder carries a
comment on its line. Values are plain ``dict``/``list``/scalars; wrap one in :class:`Note` to give
it an end-of-line comment and/or comment lines before it. Strings are written plain when a YAML
1.1 and a YAML 1.2 reader both read them back unchanged, quoted otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

INDENT = 2
FLOW_UNSAFE = set(",[]{}#&*!|>'\"%@`")


@dataclass(frozen=True)
class Note:
    """A value with an end-of-line ``comment`` and comment lines ``before`` it."""

    value: Any
    comment: str | None = None
    before: tuple[str, ...] = ()


def plain(data: Any) -> Any:
    """``data`` with every :class:`Note` replaced by its value (what a YAML reader gets back)."""
    if isinstance(data, Note):
        return plain(data.value)
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


def dump(data: dict[str, Any], header: list[str] | None = None) -> str:
    """Render ``data`` (a mapping, possibly holding :class:`Note` values) as commented YAML."""
    lines = [_comment_line(text, 0) for text in header or []]
    _mapping(data, 0, lines)
    return "\n".join(lines) + "\n"


def _comment_line(text: str, indent: int) -> str:
    lead = len(text) - len(text.lstrip(" "))
    text = " ".join(text.split())
    return " " * indent + ("# " + " " * lead + text if text else "#")


def _eol(note: Note) -> str:
    return f"  # {' '.join(note.comment.split())}" if note.comment else ""


def _unwrap(value: Any) -> Note:
    return value if isinstance(value, Note) else Note(value)


def _mapping(data: dict[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, raw in data.items():
        note = _unwrap(raw)
        lines.extend(_comment_line(text, indent) for text in note.before)
        value = plain(note.value)
        name = scalar(str(key))
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{name}:{_eol(note)}")
            _mapping(note.value if isinstance(note.value, dict) else value, indent + INDENT, lines)
        elif isinstance(value, list) and value and not _flow_ok(value):
            lines.append(f"{pad}{name}:{_eol(note)}")
            _sequence(note.value if isinstance(note.value, list) else value, indent + INDENT, lines)
        else:
            lines.append(f"{pad}{name}: {_inline(value)}{_eol(note)}")


def _sequence(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for raw in items:
        note = _unwrap(raw)
        lines.extend(_comment_line(text, indent) for text in note.before)
        value = note.value
        if isinstance(plain(value), dict) and plain(value):
            sub: list[str] = []
            _mapping(value, indent + INDENT, sub)
            first = next(i for i, line in enumerate(sub) if not line.lstrip().startswith("#"))
            lines.extend(line[INDENT:] for line in sub[:first])
            lines.append(f"{pad}- {sub[first][indent + INDENT :]}{_eol(note)}")
            lines.extend(sub[first + 1 :])
        elif isinstance(plain(value), list) and plain(value) and not _flow_ok(plain(value)):
            raise ValueError("nested block lists are not used in inventories")
        else:
            lines.append(f"{pad}- {_inline(plain(value))}{_eol(note)}")


def _flow_ok(items: list[Any]) -> bool:
    """Short lists of scalars are written inline: ``[gateway, gpu]``."""
    return all(not isinstance(v, (dict, list)) for v in items) and len(_inline(items)) <= 80


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(str(k), flow=True)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return scalar(value, flow=True)


def scalar(value: Any, flow: bool = False) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _plain_ok(text) and not (flow and FLOW_UNSAFE & set(text)):
        return text
    return json.dumps(text, ensure_ascii=False)


@lru_cache(maxsize=4096)
def _plain_ok(text: str) -> bool:
    if not text or text != text.strip() or "\n" in text or text[0] in "-?:,[]{}#&*!|>'\"%@`":
        return False
    for version in ((1, 1), (1, 2)):
        try:
            if _reader(version).load(f"k: {text}\n") != {"k": text}:
                return False
        except YAMLError:
            return False
    return True


@lru_cache(maxsize=2)
def _reader(version: tuple[int, int]) -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = version
    return yaml
