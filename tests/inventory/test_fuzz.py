"""Property-based fuzzing of the loader and renderer (hypothesis, bounded time).

Random structural and string mutations of every example fleet never crash the CLI: it exits only 0
or 2, without a traceback, and when it exits 0 every rendered YAML/JSON file parses.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmfleet.cli import app
from llmfleet.inventory.yamlsource import load_plain_yaml, read_yaml

from .conftest import write_yaml

REPO = Path(__file__).resolve().parents[2]
FLEETS = sorted(p for p in (REPO / "inventories").glob("*.yml") if p.name.count(".") == 1)
BASES = {p.stem: read_yaml(p)[0] for p in FLEETS}

NASTY = st.sampled_from(
    ["", " ", "\r", "\n", "\x00", "\x1b[2J", "\u2028", "\u0085", "%", "$", "${X}", "..", "/", "#", "'", '"', "\\", ":", "{", "[",
     "*", "&a", "!!python/object", "0.0.0.0", "::1%lo", "-hf", "sk-ant-api03-" + "A" * 40, "AKIA" + "A" * 16, ".inf", "é", "🦙"]
)  # fmt: skip
TEXT = st.one_of(NASTY, st.text(max_size=12), st.builds(lambda a, b: a + b, st.text(max_size=6), NASTY))
SCALAR = st.one_of(TEXT, st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none())
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(BASES)))
    data = copy.deepcopy(BASES[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "string", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(TEXT)] = draw(VALUE)
        elif action == "string" and isinstance(parent[path[-1]], str):
            original = parent[path[-1]]
            cut = draw(st.integers(0, len(original)))
            parent[path[-1]] = original[:cut] + draw(NASTY) + original[cut:]
        else:
            parent[path[-1]] = draw(VALUE)
    return name, data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_fleets_never_crash_and_a_clean_exit_renders_parseable_files(tmp_path: Path, case: tuple[str, Any]) -> None:
    name, data = case
    inv = tmp_path / f"{name}.yml"
    try:
        write_yaml(inv, data)
    except Exception:  # ruamel cannot write this mutation (e.g. a NUL): the loader never sees it
        return
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", str(inv), "--out", str(out)], catch_exceptions=True)
    assert result.exit_code in (0, 2), (result.exit_code, result.output[-2000:], result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "sk-ant-api03-" + "A" * 40 not in result.output and "AKIA" + "A" * 16 not in result.output
    if result.exit_code == 0:
        for path in out.rglob("*"):
            if path.suffix in (".yaml", ".yml"):
                load_plain_yaml(path.read_text(), str(path))
            elif path.suffix in (".json",):
                json.loads(path.read_text())
    import shutil

    shutil.rmtree(out, ignore_errors=True)


def test_fuzz_covers_every_example_fleet() -> None:
    assert len(BASES) >= 5 and sys.version_info >= (3, 11)
    pytest.importorskip("hypothesis")
