"""Load an inventory file (plus an optional overlay) into the typed model, or report every problem.

``load(path, overlay)`` reads YAML with positions, merges the overlay, validates against the
schema, scans for literal secrets and runs the cross-object rules; each problem is located by
file, line and field path. Errors raise :class:`InventoryError` listing all of them at once.
"""

from __future__ import annotations

import gc
import os
import re
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from llmfleet.inventory.advisories import advisory_problems
from llmfleet.inventory.model import Inventory
from llmfleet.inventory.placeholders import placeholder_problems
from llmfleet.inventory.problems import FieldPath, InventoryError, Problem, errors
from llmfleet.inventory.rules import IndexMap, Names, run_rules
from llmfleet.inventory.schema_errors import literal_secret_problems, problems_from_validation
from llmfleet.inventory.types import control_character_problems, server_grammar_problems
from llmfleet.inventory.yamlsource import Located, YamlSourceError, locate, merge, read_yaml


@dataclass(frozen=True)
class Loaded:
    """A valid inventory, with the warnings found on the way and where it came from."""

    inventory: Inventory
    warnings: list[Problem]
    sources: tuple[Path, ...]
    where: Located | None = None

    def locate(self, path: FieldPath) -> tuple[str | None, int | None]:
        """The file and line that wrote ``path`` (for problems found after loading)."""
        return locate(self.where, path) if self.where is not None else (None, None)


def display_path(path: Path) -> str:
    """A path as the user should see it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:
        return str(path)


def overlay_for(path: Path, env: str) -> Path:
    """The overlay file of environment ``env`` for ``path``: ``prod.yml`` → ``prod.<env>.yml``."""
    return path.with_name(f"{path.stem}.{env}{path.suffix}")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: loading builds many small acyclic objects, and the
    collector's repeated scans of the growing heap made large fleets load super-linearly."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load(path: Path, overlay: Path | None = None) -> Loaded:
    """Load and check an inventory; raise :class:`InventoryError` with every error found."""
    with _gc_paused():
        return _load(path, overlay)


def _load(path: Path, overlay: Path | None) -> Loaded:
    try:
        data, loc = read_yaml(path, display_path(path))
        if overlay is not None:
            over, over_loc = read_yaml(overlay, display_path(overlay))
            if not isinstance(over, dict):
                raise YamlSourceError(Problem((), "an overlay must be a mapping", file=over_loc.file, line=1))
            data, loc = merge(data, loc, over, over_loc)
    except YamlSourceError as exc:
        raise InventoryError([exc.problem]) from None
    if not isinstance(data, dict):
        raise InventoryError([Problem((), "an inventory must be a mapping (fleet:, hosts:, models:, ...)", file=loc.file, line=1)])

    control = list(control_character_problems(data))
    problems = control + literal_secret_problems(Inventory, data) + placeholder_problems(data)
    try:
        inv = Inventory.model_validate(data)
        problems += (
            run_rules(inv) + list(server_grammar_problems(inv)) + errors(advisory_problems(inv))
        )  # advisory warnings: `validate`/`audit`
    except ValidationError as exc:
        problems += problems_from_validation(Inventory, exc, data)
        partial, index_map = _partial_inventory(data)
        parsed = parsed_sections(data)
        broken = [
            n for n, f in Inventory.model_fields.items() if n in data and typing.get_origin(f.annotation) is not list and n not in parsed
        ]
        cross = run_rules(partial, Names.from_data(data), index_map=index_map)
        # A section that failed to parse looks absent to the rules: what they say about it is false.
        problems += [p for p in cross if not any(re.search(rf"(?<![\w.]){b}(\b|\.|:)", p.message) for b in broken)]
        inv = None
    problems = _without_cascades(problems, {p.path for p in control})
    located = sorted(_dedupe([p.located(*locate(loc, p.path)) for p in problems]), key=lambda p: (p.file or "", p.line or 0))
    if errors(located) or inv is None:
        raise InventoryError(located)
    return Loaded(inv, located, (path,) + ((overlay,) if overlay else ()), loc)


def load_inventory(path: Path, overlay: Path | None = None) -> Inventory:
    """Load and check an inventory; return the model (warnings are dropped)."""
    return load(path, overlay).inventory


def _partial_inventory(data: dict[str, Any]) -> tuple[Inventory, IndexMap]:
    """An inventory of the parts that validate on their own (for rules after schema errors),
    and, per list section, the file's index of each item kept."""
    parts: dict[str, Any] = {}
    index_map: IndexMap = {}
    for name, field in Inventory.model_fields.items():
        if name not in data:
            if not field.is_required():
                parts[name] = field.get_default(call_default_factory=True)
            continue
        value = data[name]
        if isinstance(value, list) and typing.get_origin(field.annotation) is list:
            item = TypeAdapter(typing.get_args(field.annotation)[0])
            kept = [(i, v) for i, v in ((i, _try(item, raw)) for i, raw in enumerate(value)) if v is not None]
            parts[name] = [v for _, v in kept]
            index_map[(name,)] = [i for i, _ in kept]
        elif (parsed := _try(TypeAdapter(field.annotation), value)) is not None:
            parts[name] = parsed
    return Inventory.model_construct(**parts), index_map


def parsed_sections(data: dict[str, Any]) -> set[str]:
    """The single-object sections of ``data`` that parse on their own."""
    return {
        name
        for name, field in Inventory.model_fields.items()
        if name in data and typing.get_origin(field.annotation) is not list and _try(TypeAdapter(field.annotation), data[name]) is not None
    }


def _try(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _without_cascades(problems: list[Problem], bad_paths: set[FieldPath]) -> list[Problem]:
    """Keep one problem per value holding a control character: drop the schema errors it caused there."""
    if not bad_paths:
        return problems
    first = {path: next(p for p in problems if p.path == path) for path in bad_paths}
    return [p for p in problems if p in first.values() or not any(p.path[: len(b)] == b for b in bad_paths)]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in problems:
        key = (p.path, p.message, p.severity)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


__all__ = ["Loaded", "Located", "display_path", "load", "load_inventory", "overlay_for"]
