"""Bounded loading: no input file can exhaust memory, overflow a stack, hang or crash the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmfleet.inventory.yamlsource import MAX_BYTES, YamlSourceError, parse_yaml

from .conftest import BASE, write_yaml


def _validate(path: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmfleet.cli", "validate", str(path)], capture_output=True, text=True, timeout=120)


def _bomb() -> str:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(9):
        prev, cur = chr(97 + i), chr(98 + i)
        rows.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(rows) + "\n"


HOSTILE = {
    "alias bomb": (_bomb(), "expands to more than"),
    "30,000 nested flow brackets": ("[" * 30000 + "]" * 30000, "nesting is deeper than 64 levels"),
    "2,000 nested block mappings": ("".join(" " * i + f"k{i}:\n" for i in range(2000)) + " " * 2000 + "v: 1\n", "nesting is deeper"),
    "2,000 nested block sequences": ("".join(" " * i + "-\n" for i in range(2000)), "nesting is deeper"),
    "too many aliases": ("a: &a 1\nb: [" + ", ".join(["*a"] * 1500) + "]\n", "more than 1000 aliases"),
    "python tag on a list": ("fleet: !!python/object/apply:os.system ['id']\n", "unsupported YAML tag"),
    "python tag on a scalar": ("fleet: !!python/name:os.system x\n", "invalid YAML"),
    "not UTF-8": (b"fleet: \xff\xfe\n", "not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_refused_with_exit_2_and_a_location(tmp_path: Path, name: str) -> None:
    text, expected = HOSTILE[name]
    path = tmp_path / "fleet.yml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    proc = _validate(path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert expected in proc.stderr and "fleet.yml" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/stdin", "directory", "fifo", "oversized"])
def test_files_that_are_not_small_regular_files_are_refused(tmp_path: Path, special: str) -> None:
    path: str | Path = special
    if special == "directory":
        path = tmp_path
    elif special == "fifo":
        path = tmp_path / "pipe.yml"
        os.mkfifo(path)
    elif special == "oversized":
        path = tmp_path / "big.yml"
        path.write_text("# " + "x" * (MAX_BYTES + 10) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "llmfleet.cli", "validate", str(path)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert any(m in proc.stderr for m in ("not a regular file", "is a directory", "bytes are refused")), proc.stderr


def test_merge_key_with_an_override_is_accepted(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "fleet.yml", BASE)
    text = path.read_text().replace("gateway:\n", "x-gw: &gw\n  workers: 1\n  drop_params: true\ngateway:\n  <<: *gw\n  workers: 2\n", 1)
    data, _ = parse_yaml(text, "fleet.yml")
    assert data["gateway"]["workers"] == 2 and data["gateway"]["drop_params"] is True


def test_duplicate_key_names_both_lines() -> None:
    with pytest.raises(YamlSourceError) as exc:
        parse_yaml("fleet: a\nhosts: []\nfleet: b\n", "f.yml")
    assert exc.value.problem.line == 3 and "first at line 1" in exc.value.problem.message


def test_compose_schema_keeps_yaml_1_1_surprises_as_strings() -> None:
    data, _ = parse_yaml("ports: [22:22]\nflag: yes\nmode: 0777\n", "c.yml", schema="1.2")
    assert data == {"ports": ["22:22"], "flag": "yes", "mode": 777}
    data, _ = parse_yaml("ports: [22:22]\nflag: yes\n", "c.yml", schema="1.1")
    assert data == {"ports": [1342], "flag": True}
