"""Read YAML into plain data plus a map of where every value came from.

PyYAML's C parser (libyaml) composes the node tree with positions fast (a 40,000-line fleet in
~0.3 s, where a pure-Python round-trip parser takes seconds); we convert the nodes to plain
dicts/lists (the model never sees YAML types) and keep a parallel :class:`Located` tree, so that
any field path can be turned back into ``file:line`` — also after an overlay was merged over a
base file. Duplicate keys, which YAML parsers silently accept, are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmfleet.inventory.problems import FieldPath, Problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise YamlSourceError(Problem((), f"cannot read: {reason}", file=name)) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[Any, Located]:
    """Parse YAML ``text`` (reported as file ``name``) into plain data and its location tree."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, Located(name, 1)
        return _Converter(loader, name).convert(node)
    except yaml.YAMLError as exc:
        raise _invalid(exc, name) from None
    finally:
        loader.dispose()


def _invalid(exc: yaml.YAMLError, name: str) -> YamlSourceError:
    """The user's message for a YAML syntax error in file ``name`` (with the line when known)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return YamlSourceError(Problem((), f"invalid YAML: {exc.problem or exc.context}", file=name, line=line))
    return YamlSourceError(Problem((), f"invalid YAML: {exc}", file=name))


class _UniqueKeyLoader(_Loader):  # type: ignore[misc,valid-type]
    """libyaml's safe loader, refusing duplicate mapping keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise YamlSourceError(Problem((), f"duplicate key '{key}' (first at line {seen[key]})", file=self.name, line=line))
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_plain_yaml(text: str, name: str) -> Any:
    """Parse YAML ``text`` into plain data only (no location tree: faster), refusing duplicate keys.

    Errors are raised as :class:`YamlSourceError` naming file ``name`` and the line, as :func:`parse_yaml` does.
    """
    loader = _UniqueKeyLoader(text)
    loader.name = name
    try:
        data = loader.get_single_data()
        return {} if data is None else data  # an empty document, as parse_yaml
    except yaml.YAMLError as exc:
        raise _invalid(exc, name) from None
    finally:
        loader.dispose()


class _Converter:
    def __init__(self, loader: Any, file: str):
        self.loader = loader
        self.file = file

    def convert(self, node: yaml.Node) -> tuple[Any, Located]:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # YAML merge keys (<<)
            out: dict[Any, Any] = {}
            loc = Located(self.file, line)
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node)
                key_line = key_node.start_mark.line + 1
                if not isinstance(key, str | int | float | bool):
                    raise YamlSourceError(Problem((), "a mapping key must be a plain value", file=self.file, line=key_line))
                if key in out:
                    raise YamlSourceError(
                        Problem((), f"duplicate key '{key}' (first at line {loc.children[key].line})", file=self.file, line=key_line)
                    )
                out[key], loc.children[key] = self.convert(value_node)
                loc.children[key].line = key_line
            return out, loc
        if isinstance(node, yaml.SequenceNode):
            items = []
            loc = Located(self.file, line)
            for i, item_node in enumerate(node.value):
                data, loc.children[i] = self.convert(item_node)
                items.append(data)
            return items, loc
        return self.loader.construct_object(node, deep=True), Located(self.file, line)


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
