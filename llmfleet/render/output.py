"""Writing a rendered tree atomically, and diffing it against what would be written.

The tree holds one directory per host plus ``MANIFEST.json`` (relpath → host, dest, mode,
service, sha256). :func:`write_tree` builds the new tree in a temporary directory beside the
target and swaps it in with renames, so a failure leaves the previous tree exactly as it was.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from llmfleet.render.engine import RenderedFile

__all__ = ["MANIFEST", "OutputError", "diff_tree", "manifest", "manifest_json", "write_tree"]

MANIFEST = "MANIFEST.json"


class OutputError(RuntimeError):
    """The output directory cannot be written or replaced safely."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest(files: list[RenderedFile]) -> dict[str, dict[str, object]]:
    """The manifest entries, keyed by relpath: host, dest, mode (octal string), service, sha256."""
    return {
        f.relpath: {"host": f.host, "dest": f.dest, "mode": f"{f.mode:04o}", "service": f.service, "sha256": _sha256(f.content)}
        for f in sorted(files, key=lambda f: f.relpath)
    }


def manifest_json(files: list[RenderedFile]) -> str:
    """``MANIFEST.json``'s exact content (sorted keys, two-space indent, final newline)."""
    return json.dumps(manifest(files), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _expected(files: list[RenderedFile]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in files:
        rel = PurePosixPath(f.relpath)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or f.relpath == MANIFEST:
            raise OutputError(f"refusing to write {f.relpath!r}: not a plain relative path inside the tree")
        if f.relpath in out:
            raise OutputError(f"two files render to {f.relpath}")
        out[f.relpath] = f.content
    out[MANIFEST] = manifest_json(files)
    return out


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a directory that is not a rendered tree (it would be deleted)."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise OutputError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise OutputError(f"{out_dir} is not empty and has no {MANIFEST}: refusing to replace a directory llmfleet did not render")


def write_tree(files: list[RenderedFile], out_dir: Path) -> None:
    """Write ``files`` and ``MANIFEST.json`` to ``out_dir``, replacing its previous content atomically.

    The tree is built in a temporary directory beside ``out_dir``; then the old tree is renamed
    away, the new one renamed in and the old one removed. Any failure before the swap leaves
    ``out_dir`` untouched; a failure during it puts the old tree back.
    """
    out_dir = Path(out_dir)
    expected = _expected(files)
    _check_replaceable(out_dir)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=parent))
    try:
        for rel, content in sorted(expected.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(content)
        os.chmod(tmp, 0o755)
        _swap(tmp, out_dir.resolve() if out_dir.exists() else parent / out_dir.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(new: Path, target: Path) -> None:
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _current(out_dir: Path) -> dict[str, bytes]:
    if not out_dir.is_dir():
        return {}
    found: dict[str, bytes] = {}
    for path in sorted(out_dir.rglob("*")):
        if path.is_file() or path.is_symlink():
            found[path.relative_to(out_dir).as_posix()] = path.read_bytes() if path.is_file() else b""
    return found


def diff_tree(files: list[RenderedFile], out_dir: Path) -> str:
    """A unified diff from ``out_dir`` to what :func:`write_tree` would write; ``""`` when current.

    It covers changed, added and removed files, ``MANIFEST.json`` included.
    """
    expected = _expected(files)
    current = _current(Path(out_dir))
    chunks: list[str] = []
    for rel in sorted(set(expected) | set(current)):
        new = expected.get(rel)
        raw = current.get(rel)
        try:
            old = raw.decode("utf-8") if raw is not None else None
        except UnicodeDecodeError:
            if new is None or raw != new.encode("utf-8"):
                chunks.append(f"Binary file a/{rel} differs\n")
            continue
        if old == new:
            continue
        a = old.splitlines(keepends=True) if old is not None else []
        b = new.splitlines(keepends=True) if new is not None else []
        lines = difflib.unified_diff(a, b, fromfile=f"a/{rel}" if old is not None else "/dev/null",
                                     tofile=f"b/{rel}" if new is not None else "/dev/null")  # fmt: skip
        for line in lines:
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)
