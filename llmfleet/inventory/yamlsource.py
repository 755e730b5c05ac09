"""The one YAML reader: plain data plus where every value came from, with bounded loading.

Both the inventory loader and the importer read YAML here. PyYAML's C parser (libyaml) composes the
node tree with positions fast (a 40,000-line fleet in ~0.3 s); we convert the nodes to plain
dicts/lists (the model never sees YAML types) and keep a parallel :class:`Located` tree, so any
field path can be turned back into ``file:line`` — also after an overlay was merged over a base file.

Loading is bounded before anything is built: the file must be a regular file of at most
:data:`MAX_BYTES`; an event pass (libyaml's parser keeps its own stack, so it cannot overflow)
refuses nesting deeper than :data:`MAX_DEPTH` and more than :data:`MAX_ALIASES` aliases before the
recursive composer runs; while converting, alias expansion stops at :data:`MAX_NODES` values.

Two schemas: ``"1.1"`` is PyYAML's (and so LiteLLM's: ``yes`` is a boolean); ``"1.2"`` is the YAML 1.2
core schema Docker Compose reads (``yes`` and ``22:22`` stay strings). Duplicate keys are refused
(``duplicates="refuse"``, the inventory) or recorded with the later value winning, as PyYAML does
(``duplicates="record"``, the importer). A merge key (``<<``) may be overridden by an explicit key.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from llmfleet.inventory.problems import FieldPath, Problem

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Largest YAML file read (an inventory of 1,000 hosts is ~0.3 MiB).
MAX_BYTES = 8 * 1024 * 1024
#: Deepest nesting of mappings and sequences (an inventory needs 6).
MAX_DEPTH = 64
#: Most aliases in one document.
MAX_ALIASES = 1000
#: Most values built from one document, aliases expanded (a 1,000-host fleet builds ~60,000).
MAX_NODES = 2_000_000
MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


@dataclass
class Located:
    """Where a value (and, for containers, each child) was written.

    ``line`` is the line of the value's key (of the value itself at the top level or in a list);
    ``start`` and ``end`` are the first and last line of the value.
    """

    file: str
    line: int
    children: dict[Any, Located] = field(default_factory=dict)
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Duplicate:
    """A mapping key given twice (``duplicates="record"``); the later value wins."""

    path: FieldPath
    first_line: int
    line: int


class YamlSourceError(Exception):
    """The file is unreadable, too large, too deep or not valid YAML; ``problem`` says where."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def read_text(path: Path, name: str, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (never a device, FIFO or directory)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise YamlSourceError(Problem((), f"cannot read: {exc.strerror}", file=name)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise YamlSourceError(Problem((), "is a directory, not a YAML file", file=name))
        if not stat.S_ISREG(info.st_mode):
            raise YamlSourceError(Problem((), "is not a regular file (a device, FIFO or socket); give a YAML file", file=name))
        if info.st_size > limit:
            raise YamlSourceError(Problem((), f"is {info.st_size} bytes; YAML files over {limit} bytes are refused", file=name))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise YamlSourceError(Problem((), f"cannot read: {exc.strerror}", file=name)) from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise YamlSourceError(Problem((), f"YAML files over {limit} bytes are refused", file=name))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlSourceError(Problem((), "cannot read: not UTF-8 text", file=name)) from None


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, Located]:
    """Parse ``path`` (the inventory's rules); return plain data and its location tree. Raise :class:`YamlSourceError`."""
    name = display or str(path)
    return parse_yaml(read_text(path, name), name)


# ---------------------------------------------------------------- schemas
class _Yaml12Loader(_Base):  # type: ignore[misc,valid-type]
    """The YAML 1.2 core schema: only true/false are booleans; no sexagesimal or ``0777`` octal integers."""


_RESOLVED_BY_1_2 = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] not in _RESOLVED_BY_1_2] for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _construct_yaml12_int(loader: Any, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 16) if text.startswith("0x") else int(text)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_yaml12_int)

Schema = Literal["1.1", "1.2"]
_LOADERS: dict[str, type] = {"1.1": _Base, "1.2": _Yaml12Loader}


# ---------------------------------------------------------------- parsing
def parse_yaml(
    text: str,
    name: str,
    *,
    schema: Schema = "1.1",
    duplicates: Literal["refuse", "record"] = "refuse",
    found: list[Duplicate] | None = None,
) -> tuple[Any, Located]:
    """Parse YAML ``text`` (reported as file ``name``) into plain data and its location tree.

    With ``duplicates="record"`` each repeated key is appended to ``found`` and the later value wins.
    """
    if len(text) > MAX_BYTES:
        raise YamlSourceError(Problem((), f"YAML text over {MAX_BYTES} characters is refused", file=name))
    loader_class = _LOADERS[schema]
    _check_shape(text, name, loader_class)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, Located(name, 1, start=0, end=0)  # start 0: an empty document
        return _Converter(loader, name, duplicates, found if found is not None else []).convert(node, ())
    except yaml.YAMLError as exc:
        raise _invalid(exc, name) from None
    except RecursionError:  # unreachable after _check_shape; kept so no input can crash the CLI
        raise YamlSourceError(Problem((), f"nesting is deeper than {MAX_DEPTH} levels", file=name)) from None
    finally:
        loader.dispose()


def _check_shape(text: str, name: str, loader_class: type) -> None:
    """Refuse too-deep nesting and too many aliases from parser events, before any recursive composition."""
    depth = aliases = 0
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise YamlSourceError(Problem((), f"nesting is deeper than {MAX_DEPTH} levels", file=name, line=line))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    line = event.start_mark.line + 1
                    raise YamlSourceError(Problem((), f"more than {MAX_ALIASES} aliases (*name) in one file", file=name, line=line))
    except yaml.YAMLError as exc:
        raise _invalid(exc, name) from None


def _invalid(exc: yaml.YAMLError, name: str) -> YamlSourceError:
    """The user's message for a YAML syntax error in file ``name`` (with the line when known)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return YamlSourceError(Problem((), f"invalid YAML: {exc.problem or exc.context}", file=name, line=line))
    return YamlSourceError(Problem((), f"invalid YAML: {exc}", file=name))


def load_plain_yaml(text: str, name: str) -> Any:
    """Parse YAML ``text`` into plain data only (rendered files), refusing duplicate keys, with the same bounds."""
    return parse_yaml(text, name)[0]


def _lines(node: yaml.Node) -> tuple[int, int]:
    start = node.start_mark.line + 1
    end = node.end_mark.line + 1
    # A block value's end mark sits on the line after it when it ends with a line break.
    if end > start and node.end_mark.column == 0:
        end -= 1
    return start, end


class _Converter:
    def __init__(self, loader: Any, file: str, duplicates: str, found: list[Duplicate]):
        self.loader = loader
        self.file = file
        self.duplicates = duplicates
        self.found = found
        self.count = 0
        #: An alias is the same node again: it is converted once and its size counted at every use.
        self.memo: dict[int, tuple[Any, Located, int]] = {}

    def _spend(self, node: yaml.Node, n: int = 1) -> None:
        self.count += n
        if self.count > MAX_NODES:
            raise YamlSourceError(
                Problem((), f"expands to more than {MAX_NODES} values (an alias bomb?)", file=self.file, line=node.start_mark.line + 1)
            )

    def scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            raise
        except (ValueError, TypeError, OverflowError):
            return str(node.value)
        if isinstance(value, datetime.date | datetime.datetime | bytes):
            return str(node.value)
        return value

    def key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise YamlSourceError(Problem((), "a mapping key must be a plain value", file=self.file, line=node.start_mark.line + 1))
        return self.scalar(node)

    def convert(self, node: yaml.Node, path: FieldPath) -> tuple[Any, Located]:
        if id(node) in self.memo:
            data, loc, size = self.memo[id(node)]
            self._spend(node, size)
            return data, replace(loc)
        before = self.count
        data, loc = self._convert(node, path)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self.memo[id(node)] = (data, loc, self.count - before)
        return data, loc

    def _convert(self, node: yaml.Node, path: FieldPath) -> tuple[Any, Located]:
        self._spend(node)
        start, end = _lines(node)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _COLLECTION_TAGS:
            raise YamlSourceError(Problem((), f"unsupported YAML tag {node.tag!r}", file=self.file, line=start))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, start, end)
        if isinstance(node, yaml.SequenceNode):
            items = []
            loc = Located(self.file, start, start=start, end=end)
            for i, item_node in enumerate(node.value):
                data, loc.children[i] = self.convert(item_node, (*path, i))
                items.append(data)
            return items, loc
        return self.scalar(node), Located(self.file, start, start=start, end=end)

    def mapping(self, node: yaml.MappingNode, path: FieldPath, start: int, end: int) -> tuple[dict[Any, Any], Located]:
        merged: dict[Any, Any] = {}
        merged_loc: dict[Any, Located] = {}
        out: dict[Any, Any] = {}
        loc = Located(self.file, start, start=start, end=end)
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        line = source.start_mark.line + 1
                        raise YamlSourceError(
                            Problem((), "a merge key (<<) takes a mapping or a list of mappings", file=self.file, line=line)
                        )
                    data, data_loc = self.convert(source, path)
                    for k, v in data.items():
                        if k not in merged:  # the first source of a key wins, as in YAML's merge rule
                            merged[k], merged_loc[k] = v, data_loc.children[k]
                continue
            key = self.key(key_node)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                first = loc.children[key].line
                if self.duplicates == "refuse":
                    raise YamlSourceError(Problem((), f"duplicate key '{key}' (first at line {first})", file=self.file, line=key_line))
                self.found.append(Duplicate((*path, key if isinstance(key, str) else str(key)), first, key_line))
            child_path = (*path, key if isinstance(key, str) else str(key))
            out[key], child = self.convert(value_node, child_path)
            child.line = key_line
            child.start = min(child.start, key_line)
            loc.children[key] = child
        for k, v in merged.items():  # explicit keys override merged ones
            if k not in out:
                out[k], loc.children[k] = v, merged_loc[k]
        return out, loc


def merge(base: Any, base_loc: Located, over: Any, over_loc: Located) -> tuple[Any, Located]:
    """Merge an overlay over a base.

    Mappings merge key by key; lists of mappings that all have a ``name`` merge item by item on
    ``name`` (new names are appended); anything else in the overlay replaces the base value.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        loc = Located(base_loc.file, base_loc.line, dict(base_loc.children), base_loc.start, base_loc.end)
        for key, value in over.items():
            if key in base:
                out[key], loc.children[key] = merge(base[key], base_loc.children[key], value, over_loc.children[key])
            else:
                out[key], loc.children[key] = value, over_loc.children[key]
        return out, loc
    if _named_list(base) and _named_list(over):
        out_list = list(base)
        loc = Located(base_loc.file, base_loc.line, dict(base_loc.children), base_loc.start, base_loc.end)
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
