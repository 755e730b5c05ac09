"""built_once: a cache directory is built once, atomically, and a failed build leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlab.cachebuild import built_once


def test_built_once_builds_then_reuses(tmp_path: Path) -> None:
    calls = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "data").write_text("x")
        (tmp / "SHA256SUMS").write_text("...  data\n")

    home = tmp_path / "cache" / "thing"
    assert built_once(home, build) == home and (home / "data").read_text() == "x"
    assert built_once(home, build) == home
    assert len(calls) == 1


def test_a_failed_build_leaves_no_half_built_directory(tmp_path: Path) -> None:
    home = tmp_path / "thing"

    def broken(tmp: Path) -> None:
        (tmp / "half").write_text("")
        raise OSError("download failed")

    with pytest.raises(OSError, match="download failed"):
        built_once(home, broken)
    assert not home.exists()
    with pytest.raises(RuntimeError, match="wrote no SHA256SUMS"):
        built_once(home, lambda tmp: (tmp / "data").write_text(""))
    assert not home.exists()
