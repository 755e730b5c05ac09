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


#: Directories a rendered tree may never replace (nor be written as).
_NEVER = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin",
                    "/srv", "/sys", "/tmp", "/usr", "/var", "/usr/local", "/var/lib", "/var/tmp"})  # fmt: skip


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace anything but an empty directory or a tree this manifest proves llmfleet wrote.

    A tree is trusted only when ``MANIFEST.json`` parses, names only plain relative paths, and the
    directory holds exactly those regular files (no symlinks, nothing else) with the listed SHA-256.
    """
    if out_dir.is_symlink():
        raise OutputError(f"{out_dir} is a symlink: give the real directory")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a directory")
    real = out_dir.resolve()
    if str(real) in _NEVER or real == Path.home().resolve() or real == Path.cwd().resolve():
        raise OutputError(f"{out_dir} is {real}: refusing to replace it; give a directory of its own, e.g. ./rendered")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    problem = _untrusted(out_dir)
    if problem:
        raise OutputError(
            f"{out_dir} is not a tree llmfleet rendered ({problem}): refusing to replace it; move it away or give another directory"
        )


def _untrusted(out_dir: Path) -> str | None:
    """Why ``out_dir``'s content cannot be proven to be a rendered tree, or ``None`` when it can."""
    manifest_path = out_dir / MANIFEST
    if manifest_path.is_symlink() or not manifest_path.is_file():
        return f"no {MANIFEST}"
    try:
        listed = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return f"{MANIFEST} is not valid JSON"
    if not isinstance(listed, dict) or not listed:
        return f"{MANIFEST} lists no files"
    present: set[str] = set()
    for path in out_dir.rglob("*"):
        rel = path.relative_to(out_dir).as_posix()
        if path.is_symlink():
            return f"{rel} is a symlink"
        if path.is_file() and rel != MANIFEST:
            present.add(rel)
        elif not path.is_file() and not path.is_dir():
            return f"{rel} is not a regular file"
    if present != set(listed):
        extra = sorted(present - set(listed))[:3]
        return f"files not in {MANIFEST}: {', '.join(extra)}" if extra else f"files listed in {MANIFEST} are missing"
    for rel, entry in listed.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            return f"{MANIFEST} entry {rel!r} has no sha256"
        if hashlib.sha256((out_dir / rel).read_bytes()).hexdigest() != entry["sha256"]:
            return f"{rel} changed since it was rendered"
    return None


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
