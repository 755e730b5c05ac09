"""The README's layout table names one file or folder per concern and matches the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_paths() -> list[str]:
    """Every path the first column of the README's layout table names (backticked)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [p for row in rows for p in re.findall(r"`([^`]+)`", row.split("|")[1])]


def tracked_top_level() -> set[str]:
    """Top-level files and folders git tracks, folders with a trailing slash (dot-files left out)."""
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return {n.split("/", 1)[0] + ("/" if "/" in n else "") for n in names if not n.startswith(".")}


def test_every_path_in_the_layout_table_exists() -> None:
    paths = layout_paths()
    assert paths
    for path in paths:
        assert (ROOT / path).exists(), f"README layout names {path}, which is not in the tree"
        assert path.endswith("/") == (ROOT / path).is_dir(), f"{path}: a folder is written with a trailing slash, a file without"


def test_every_top_level_folder_and_every_llmfleet_module_has_a_row() -> None:
    named = set(layout_paths())
    folders = {n for n in tracked_top_level() if n.endswith("/")}
    assert folders <= named, f"top-level folders missing from the README layout table: {sorted(folders - named)}"
    shipped = {
        f"llmfleet/{p.name}/" if p.is_dir() else f"llmfleet/{p.name}"
        for p in (ROOT / "llmfleet").iterdir()
        if p.name != "__init__.py" and not p.name.startswith((".", "__pycache__")) and (p.is_dir() or p.suffix == ".py")
    }
    covered = {p for p in shipped if p in named or any(n.startswith(p) for n in named)}
    assert shipped == covered, f"llmfleet modules missing from the README layout table: {sorted(shipped - covered)}"
    assert len(named) == len(set(named)), "a path is named twice"
