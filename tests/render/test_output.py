"""write_tree / diff_tree: atomic swaps, MANIFEST.json, diffs of changed, added and removed files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmfleet.render import MANIFEST, OutputError, RenderError, diff_tree, engine, output, render_fleet, write_tree


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def files(inventories):
    return render_fleet(inventories["full"])


def test_write_then_diff_is_empty(files, tmp_path):
    out = tmp_path / "out"
    write_tree(files, out)
    assert diff_tree(files, out) == ""
    tree = snapshot(out)
    assert set(tree) == {f.relpath for f in files} | {MANIFEST}
    for f in files:
        assert tree[f.relpath] == f.content.encode("utf-8")
    write_tree(files, out)
    assert snapshot(out) == tree, "rewriting the same render is byte-identical"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary directories left behind"


def test_manifest(files, tmp_path):
    write_tree(files, tmp_path / "out")
    text = (tmp_path / "out" / MANIFEST).read_text(encoding="utf-8")
    manifest = json.loads(text)
    assert list(manifest) == sorted(f.relpath for f in files)
    entry = manifest["gw1/litellm/config.yaml"]
    cfg = next(f for f in files if f.relpath == "gw1/litellm/config.yaml")
    assert entry == {
        "host": "gw1",
        "dest": "/opt/llmfleet/litellm/config.yaml",
        "mode": "0644",
        "service": "compose:litellm",
        "sha256": hashlib.sha256(cfg.content.encode("utf-8")).hexdigest(),
    }
    assert manifest["gw1/litellm/.env.example"]["service"] is None
    assert text == json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_diff_shows_changed_added_and_removed_files(files, tmp_path):
    out = tmp_path / "out"
    write_tree(files, out)
    (out / "gw1/litellm/config.yaml").write_text("hand edit\n", encoding="utf-8")
    (out / "gpu1/ollama/models.txt").unlink()
    (out / "gw1/stray.txt").write_text("left over\n", encoding="utf-8")
    diff = diff_tree(files, out)
    assert "--- a/gw1/litellm/config.yaml\n+++ b/gw1/litellm/config.yaml\n" in diff
    assert "-hand edit\n" in diff
    assert "--- /dev/null\n+++ b/gpu1/ollama/models.txt\n" in diff
    assert "--- a/gw1/stray.txt\n+++ /dev/null\n" in diff
    changed = [dataclasses.replace(f, content=f.content + "# more\n") if f.relpath.endswith("up.args") else f for f in files]
    with pytest.raises(OutputError, match="not a tree llmfleet rendered"):
        write_tree(files, out)  # the edited and stray files are not what the manifest lists: never deleted
    shutil.rmtree(out)
    write_tree(files, out)
    diff = diff_tree(changed, out)
    assert "+# more\n" in diff and "--- a/MANIFEST.json\n" in diff, "the manifest's sha256 changes too"


def test_diff_of_a_missing_tree_adds_everything(files, tmp_path):
    diff = diff_tree(files, tmp_path / "nothing")
    assert diff.count("--- /dev/null\n") == len(files) + 1


def test_a_render_failure_leaves_the_old_tree_intact(inventories, monkeypatch, tmp_path):
    out = tmp_path / "out"
    write_tree(render_fleet(inventories["full"]), out)
    before = snapshot(out)

    def broken(name, view):
        if name == "headscale/acl.hujson.j2":
            raise RenderError("template exploded")
        return original(name, view)

    original = engine.render_template
    monkeypatch.setattr(engine, "render_template", broken)
    with pytest.raises(RenderError):
        write_tree(render_fleet(inventories["manual"]), out)
    assert snapshot(out) == before


def test_a_write_failure_leaves_the_old_tree_intact(files, inventories, monkeypatch, tmp_path):
    out = tmp_path / "out"
    write_tree(files, out)
    before = snapshot(out)
    calls = {"n": 0}
    real_open = open

    def flaky_open(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(output, "open", flaky_open, raising=False)
    with pytest.raises(OSError, match="No space"):
        write_tree(render_fleet(inventories["manual"]), out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_swap_puts_the_old_tree_back(files, inventories, monkeypatch, tmp_path):
    out = tmp_path / "out"
    write_tree(files, out)
    before = snapshot(out)
    real_rename = os.rename

    def rename(src, dst):
        if Path(src).name.startswith(".out.new-"):
            raise OSError(5, "I/O error")
        return real_rename(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    with pytest.raises(OSError, match="I/O error"):
        write_tree(render_fleet(inventories["manual"]), out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_refuses_to_replace_a_directory_it_did_not_render(files, tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match=MANIFEST):
        write_tree(files, precious)
    assert (precious / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    write_tree(files, empty)
    assert (empty / MANIFEST).is_file()


def test_refuses_paths_outside_the_tree(files, tmp_path):
    evil = [*files, dataclasses.replace(files[0], relpath="../escape.txt")]
    with pytest.raises(OutputError):
        write_tree(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_creates_missing_parents(files, tmp_path):
    out = tmp_path / "a" / "b" / "out"
    write_tree(files, out)
    assert diff_tree(files, out) == ""


# ---------------------------------------------------------------- render --out refuses what it did not write
def _render_out(inventory: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmfleet.cli", "render", inventory, "--out", str(out)], capture_output=True, text=True)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize(
    "case", ["file", "symlink", "root", "foreign", "empty-manifest", "forged-manifest", "edited-file", "extra-file", "readonly"]
)
def test_render_out_refuses_what_it_did_not_write(tmp_path: Path, case: str) -> None:
    inv = "inventories/pip.yml"
    out = tmp_path / "out"
    if case == "file":
        out.write_text("precious")
    elif case == "symlink":
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "keep.txt").write_text("precious")
        out.symlink_to(tmp_path / "real")
    elif case == "root":
        out = Path("/")
    elif case == "foreign":
        out.mkdir()
        (out / "keep.txt").write_text("precious")
    elif case == "empty-manifest":
        out.mkdir()
        (out / "keep.txt").write_text("precious")
        (out / "MANIFEST.json").write_text("")
    elif case == "forged-manifest":
        out.mkdir()
        (out / "keep.txt").write_text("precious")
        (out / "MANIFEST.json").write_text('{"keep.txt": {"sha256": "' + "0" * 64 + '"}}')
    elif case in ("edited-file", "extra-file"):
        assert _render_out(inv, out).returncode == 0
        victim = next(p for p in sorted(out.rglob("*.yaml")))
        if case == "edited-file":
            victim.write_text(victim.read_text() + "# hand edit\n")
        else:
            (victim.parent / "notes.txt").write_text("precious")
    elif case == "readonly":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories")
        parent = tmp_path / "ro"
        parent.mkdir()
        out = parent / "out"
        parent.chmod(0o500)
    before = _snapshot(out) if out.is_dir() and case != "root" else None
    proc = _render_out(inv, out)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert any(m in proc.stderr for m in ("refusing", "cannot write", "not a directory", "is a symlink")), proc.stderr
    if case == "file":
        assert out.read_text() == "precious"
    if before is not None:
        assert _snapshot(out) == before
    if case == "symlink":
        assert (tmp_path / "real" / "keep.txt").read_text() == "precious"


def test_render_out_replaces_its_own_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render_out("inventories/pip.yml", out).returncode == 0
    proc = _render_out("inventories/pip.yml", out)
    assert proc.returncode == 0, proc.stderr
