"""LiteLLM's ``include:``: other config files merged into the one that names them, as the proxy does it.

LiteLLM 1.106.2 (``proxy/common_utils/config_includes.py``): each entry is a path relative to the
config that declares it (else, for old configs, to the root config); included files may include
others; a file already merged is skipped; list values (``model_list``) are extended and every other
top-level value is replaced. A missing file stops the proxy, so it stops the import too.

Built on the YAML layer of :mod:`llmfleet.importer.source`: every included file is read with
:func:`load_yaml`. The merged source keeps the root file's name; keys that came from an included
file are located at the line of the ``include`` entry that pulled them in.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from llmfleet.importer.source import ImportInputError, Span, YamlSource, load_yaml
from llmfleet.inventory.problems import FieldPath

INCLUDE_KEY = "include"
MAX_INCLUDES = 64


def include_entries(source: YamlSource) -> list[tuple[str, int | None]]:
    """The ``include`` entries of ``source`` with their lines; a malformed ``include`` is an input error."""
    entries = source.data.get(INCLUDE_KEY)
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ImportInputError(source.file, source.line((INCLUDE_KEY,)), "'include' must be a list of file paths (LiteLLM refuses it)")
    return [(entry, source.line((INCLUDE_KEY, index))) for index, entry in enumerate(entries)]


def resolve(entry: str, declared_in: str, root: str) -> Path:
    """The file an ``include`` entry names: next to the declaring config, else (old configs) next to the root one."""
    declared = (Path(declared_in).parent / entry).resolve()
    rooted = (Path(root).parent / entry).resolve()
    if declared == rooted or declared.exists() or not rooted.exists():
        return declared
    return rooted


def follow_includes(root: YamlSource) -> tuple[YamlSource, list[str]]:
    """The config with every included file merged in, and the included files in the order they were read."""
    pending = [(entry, root.file, line) for entry, line in include_entries(root)]
    if not pending:
        return root, []
    data: dict[str, Any] = {k: v for k, v in root.data.items() if k != INCLUDE_KEY}
    spans = {path: span for path, span in root.spans.items() if path[:1] != (INCLUDE_KEY,)}
    loaded = {str(Path(root.file).resolve())}
    files: list[str] = []
    while pending:
        entry, declared_in, root_line = pending.pop(0)
        path = resolve(entry, declared_in, root.file)
        if str(path) in loaded:
            continue
        if len(loaded) > MAX_INCLUDES:
            raise ImportInputError(root.file, root_line, f"more than {MAX_INCLUDES} included files")
        if not path.exists():
            raise ImportInputError(root.file, root_line, f"included file {entry} not found (looked for {path}); LiteLLM refuses to start")
        included = load_yaml(path, what="included LiteLLM config", yaml_1_1=True)
        loaded.add(str(path))
        files.append(included.file)
        at = Span(root_line or 1, root_line or 1, root_line or 1)
        for key, value in included.data.items():
            if key == INCLUDE_KEY:
                continue
            if isinstance(value, list) and isinstance(data.get(key), list):
                offset = len(data[key])
                data[key] = [*data[key], *value]
                _locate(spans, included, (key,), at, offset)
            else:
                data[key] = value
                spans = {p: s for p, s in spans.items() if p[:1] != (key,)}
                _locate(spans, included, (key,), at, None)
        pending += [(e, included.file, root_line) for e, _ in include_entries(included)]
    return replace(root, data=data, spans=spans), files


def _locate(spans: dict[FieldPath, Span], included: YamlSource, prefix: FieldPath, at: Span, offset: int | None) -> None:
    """Every path of ``included`` under ``prefix`` (list indices shifted by ``offset``) located at the include entry."""
    for path in included.spans:
        if path[: len(prefix)] != prefix:
            continue
        if offset is not None and len(path) > len(prefix) and isinstance(path[len(prefix)], int):
            path = (*prefix, path[len(prefix)] + offset, *path[len(prefix) + 1 :])
        spans[path] = at
    spans.setdefault(prefix, at)
