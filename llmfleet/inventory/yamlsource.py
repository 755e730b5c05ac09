"""Read YAML into plain data plus a map of where every value came from.

``ruamel.yaml`` keeps line numbers on the nodes it builds; we convert to plain dicts/lists (the
model never sees YAML types) and keep a parallel :class:`Located` tree, so that any field path
can be turned back into ``file:line`` — also after an overlay was merged over a base file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from llmfleet.inventory.problems import FieldPath, Problem


@dataclass
class Located:
    """Where a value (and, for containers, each child) was written."""

    file: str
    line: int
    children: dict[Any, Located] = field(default_factory=dict)


class YamlSourceError(Exception):
    """The file is unreadable or not valid YAML; ``problem`` says where."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, Located]:
    """Parse ``path``; return plain data and its location tree. Raise :class:`YamlSourceError`."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlSourceError(Problem((), f"cannot read: {exc.strerror}", file=name)) from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlSourceError(Problem((), f"duplicate key: {_first_line(exc.problem)}", file=name, line=line)) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlSourceError(Problem((), f"invalid YAML: {exc.problem or exc.context}", file=name, line=line)) from None
    if node is None:
        node = CommentedMap()
    return _convert(node, name, 1)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else "duplicate key"


def _convert(node: Any, file: str, line: int) -> tuple[Any, Located]:
    if isinstance(node, CommentedMap):
        loc = Located(file, node.lc.line + 1 if node.lc.line is not None else line)
        out: dict[Any, Any] = {}
        for key, value in node.items():
            key_line = node.lc.key(key)[0] + 1
            out[key], loc.children[key] = _convert(value, file, key_line)
            loc.children[key].line = key_line
        return out, loc
    if isinstance(node, CommentedSeq):
        loc = Located(file, line)
        items = []
        for i, value in enumerate(node):
            item_line = node.lc.item(i)[0] + 1
            data, child = _convert(value, file, item_line)
            child.line = item_line
            items.append(data)
            loc.children[i] = child
        return items, loc
    return _plain_scalar(node), Located(file, line)


def _plain_scalar(value: Any) -> Any:
    """ruamel returns str/int/float/bool subclasses; give pydantic the builtins."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def merge(base: Any, base_loc: Located, over: Any, over_loc: Located) -> tuple[Any, Located]:
    """Merge an overlay over a base.

    Mappings merge key by key; lists of mappings that all have a ``name`` merge item by item on
    ``name`` (new names are appended); anything else in the overlay replaces the base value.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        loc = Located(base_loc.file, base_loc.line, dict(base_loc.children))
        for key, value in over.items():
            if key in base:
                out[key], loc.children[key] = merge(base[key], base_loc.children[key], value, over_loc.children[key])
            else:
                out[key], loc.children[key] = value, over_loc.children[key]
        return out, loc
    if _named_list(base) and _named_list(over):
        out_list = list(base)
        loc = Located(base_loc.file, base_loc.line, dict(base_loc.children))
        index = {item["name"]: i for i, item in enumerate(base)}
        for j, item in enumerate(over):
            if item["name"] in index:
                i = index[item["name"]]
                out_list[i], loc.children[i] = merge(base[i], base_loc.children[i], item, over_loc.children[j])
            else:
                loc.children[len(out_list)] = over_loc.children[j]
                out_list.append(item)
        return out_list, loc
    return over, over_loc


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in value)


def locate(loc: Located, path: FieldPath) -> tuple[str, int]:
    """The file and line of the deepest node along ``path`` that exists."""
    node = loc
    for part in path:
        child = node.children.get(part)
        if child is None:
            break
        node = child
    return node.file, node.line
