#!/usr/bin/env python3
"""Download pinned artifacts, verify their SHA-256, and install them (runs on deployed hosts).

    artifact.py fetch   URL SHA256 DEST [--mode 0644]
    artifact.py install URL SHA256 DEST_DIR --binary NAME [--layout tree|flat] [--cache DIR]
    artifact.py install-listed SUMS_URL NAME_SUFFIX DEST_DIR --binary NAME [--layout ...] [--cache DIR]

``fetch`` downloads to a temporary file beside DEST and renames it into place only after the
checksum matched. ``install`` fetches into the cache, then unpacks a .tar.gz/.tgz/.tar.xz/.zip
archive (or copies a plain binary) into DEST_DIR, atomically (built beside it, then renamed):

* ``tree`` keeps the archive's layout and guarantees ``DEST_DIR/bin/NAME``;
* ``flat`` makes the directory holding ``NAME`` the root, so ``DEST_DIR/NAME`` exists.

``DEST_DIR/.llmfleet-artifact`` then holds the archive's SHA-256 (deploy's idempotence marker).

``install-listed`` is for an artifact the inventory cannot pin yet: it reads the mirror's
``SHA256SUMS`` (``sha256  name`` lines), takes the one entry whose name ends with NAME_SUFFIX, and
installs ``<directory of SUMS_URL>/<name>`` verified against that checksum.
Exit codes: 0 done, 2 usage, 3 checksum mismatch, 4 download failed, 5 bad archive.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile

MARKER = ".llmfleet-artifact"
#: Beside a fetched file: "SHA256 SIZE MTIME" of the verified file, so deploy can tell it is
#: unchanged without hashing gigabytes of weights on every run.
SUFFIX = ".llmfleet-sha256"
CHUNK = 1 << 20


class Failure(Exception):
    """A failure with an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    """Print a progress line (pyinfra shows it with -vvv, and on failure)."""
    print(message, flush=True)


def sha256_of(path: str) -> str:
    """SHA-256 of a local file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_once(url: str, out, digest) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": "llmfleet-deploy"})
    with urllib.request.urlopen(request, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0)
        done, last_report, next_pct = 0, time.monotonic(), 10
        while True:
            block = response.read(CHUNK)
            if not block:
                break
            out.write(block)
            digest.update(block)
            done += len(block)
            now = time.monotonic()
            pct = done * 100 // total if total else 0
            if (total and pct >= next_pct) or now - last_report > 10:
                size = f"{done / 1048576:.1f}/{total / 1048576:.1f} MiB" if total else f"{done / 1048576:.1f} MiB"
                log(f"  {pct}% {size}" if total else f"  {size}")
                last_report = now
                while total and next_pct <= pct:
                    next_pct += 10
        return done


def fetch(url: str, expected: str, dest: str, mode: int = 0o644, attempts: int = 3) -> None:
    """Download ``url`` to ``dest`` if its SHA-256 is ``expected``; ``dest`` is untouched otherwise."""
    if os.path.isfile(dest) and sha256_of(dest) == expected:
        log(f"{dest} already matches {expected[:12]}")
        os.chmod(dest, mode)
        write_marker(dest, expected)
        return
    parent = os.path.dirname(os.path.abspath(dest)) or "."
    os.makedirs(parent, exist_ok=True)
    last_error = ""
    for attempt in range(1, attempts + 1):
        fd, tmp = tempfile.mkstemp(prefix=".llmfleet-dl-", dir=parent)
        digest = hashlib.sha256()
        try:
            log(f"downloading {url} (attempt {attempt}/{attempts})")
            with os.fdopen(fd, "wb") as out:
                size = _download_once(url, out, digest)
            got = digest.hexdigest()
            if got != expected:
                raise Failure(3, f"SHA-256 mismatch for {url}: expected {expected}, got {got} ({size} bytes); refusing to install it")
            os.chmod(tmp, mode)
            os.replace(tmp, dest)
            write_marker(dest, expected)
            log(f"verified {dest} ({size} bytes, sha256 {expected[:12]})")
            return
        except Failure:
            _unlink(tmp)
            raise
        except Exception as exc:  # network errors: retry
            _unlink(tmp)
            last_error = f"{type(exc).__name__}: {exc}"
            log(f"  download failed: {last_error}")
            if attempt < attempts:
                time.sleep(2 * attempt)
    raise Failure(4, f"could not download {url}: {last_error}")


def write_marker(dest: str, sha256: str) -> None:
    """Record that ``dest`` (as it is now: size, mtime) was verified to have ``sha256``."""
    st = os.stat(dest)
    with open(dest + SUFFIX, "w") as fh:
        fh.write(f"{sha256} {st.st_size} {int(st.st_mtime)}\n")
    os.chmod(dest + SUFFIX, 0o644)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _safe_target(root: str, name: str) -> str:
    target = os.path.realpath(os.path.join(root, name))
    if not (target == os.path.realpath(root) or target.startswith(os.path.realpath(root) + os.sep)):
        raise Failure(5, f"archive member {name!r} points outside the target directory")
    return target


def unpack(archive: str, into: str) -> bool:
    """Unpack ``archive`` into ``into``; return False when it is not an archive (a plain file)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _safe_target(into, info.filename)
                zf.extract(info, into)
                perms = (info.external_attr >> 16) & 0o777
                if perms and not info.is_dir():
                    os.chmod(os.path.join(into, info.filename), perms)
        return True
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _safe_target(into, member.name)
                if member.issym() or member.islnk():
                    _safe_target(into, os.path.join(os.path.dirname(member.name), member.linkname))
                if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                    raise Failure(5, f"archive member {member.name!r} is not a file, directory or link")
            if hasattr(tarfile, "data_filter"):
                tf.extractall(into, filter="data")  # members checked above; the filter checks again
            else:  # Python without extraction filters (before 3.9.17)
                tf.extractall(into)
        return True
    return False


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read().strip()


def _find(root: str, name: str) -> str:
    found = []
    for dirpath, _dirs, files in os.walk(root):
        if name in files:
            found.append(os.path.join(dirpath, name))
    if not found:
        raise Failure(5, f"the archive has no file named {name}")
    return sorted(found, key=lambda p: (p.count(os.sep), p))[0]


def install(url: str, expected: str, dest_dir: str, binary: str, layout: str, cache: str) -> None:
    """Install the pinned artifact into ``dest_dir`` (see the module docstring)."""
    marker = os.path.join(dest_dir, MARKER)
    if os.path.isfile(marker) and _read(marker) == expected:
        log(f"{dest_dir} already holds {expected[:12]}")
        return
    filename = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "artifact"
    cached = os.path.join(cache, f"{expected[:16]}-{filename}")
    fetch(url, expected, cached, 0o644)
    parent = os.path.dirname(os.path.abspath(dest_dir))
    os.makedirs(parent, exist_ok=True)
    build = tempfile.mkdtemp(prefix=f".{os.path.basename(dest_dir)}.new-", dir=parent)
    try:
        staging = os.path.join(build, "x")
        os.mkdir(staging)
        if unpack(cached, staging):
            found = _find(staging, binary)
            if layout == "flat":
                root = os.path.dirname(found)
            else:
                root = staging
                wanted = os.path.join(staging, "bin", binary)
                if not os.path.exists(wanted):
                    os.makedirs(os.path.dirname(wanted), exist_ok=True)
                    os.symlink(os.path.relpath(found, os.path.dirname(wanted)), wanted)
                found = wanted
        else:
            root = staging
            found = os.path.join(staging, binary) if layout == "flat" else os.path.join(staging, "bin", binary)
            os.makedirs(os.path.dirname(found), exist_ok=True)
            shutil.copyfile(cached, found)
        real = os.path.realpath(found)
        os.chmod(real, os.stat(real).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(root, 0o755)
        with open(os.path.join(root, MARKER), "w") as fh:
            fh.write(expected + "\n")
        old = None
        if os.path.lexists(dest_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(dest_dir)}.old-", dir=parent)
            os.rmdir(old)
            os.rename(dest_dir, old)
        os.rename(root, dest_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        log(f"installed {filename} into {dest_dir}")
    finally:
        shutil.rmtree(build, ignore_errors=True)


def listed(sums_url: str, suffix: str) -> tuple[str, str]:
    """(URL, SHA-256) of the one file in the ``SHA256SUMS`` at ``sums_url`` whose name ends with ``suffix``."""
    try:
        with urllib.request.urlopen(urllib.request.Request(sums_url, headers={"User-Agent": "llmfleet-deploy"}), timeout=60) as resp:
            text = resp.read().decode("utf-8", "replace")
    except Exception as exc:
        raise Failure(4, f"could not read {sums_url}: {type(exc).__name__}: {exc}") from None
    found = []
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 64:
            name = parts[1].strip().lstrip("*")
            if name.endswith(suffix) and "/" not in name:
                found.append((name, parts[0].lower()))
    if len(found) != 1:
        raise Failure(5, f"{sums_url} lists {len(found)} files ending with {suffix}; exactly one is needed")
    name, digest = found[0]
    return sums_url.rsplit("/", 1)[0] + "/" + name, digest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="artifact.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_fetch = sub.add_parser("fetch")
    p_fetch.add_argument("url")
    p_fetch.add_argument("sha256")
    p_fetch.add_argument("dest")
    p_fetch.add_argument("--mode", default="0644")
    p_inst = sub.add_parser("install")
    p_inst.add_argument("url")
    p_inst.add_argument("sha256")
    p_inst.add_argument("dest_dir")
    p_inst.add_argument("--binary", required=True)
    p_inst.add_argument("--layout", choices=("tree", "flat"), default="tree")
    p_inst.add_argument("--cache", default="/var/cache/llmfleet/artifacts")
    p_list = sub.add_parser("install-listed")
    p_list.add_argument("sums_url")
    p_list.add_argument("suffix")
    p_list.add_argument("dest_dir")
    p_list.add_argument("--binary", required=True)
    p_list.add_argument("--layout", choices=("tree", "flat"), default="tree")
    p_list.add_argument("--cache", default="/var/cache/llmfleet/artifacts")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "fetch":
            fetch(args.url, args.sha256, args.dest, int(args.mode, 8))
        elif args.cmd == "install":
            install(args.url, args.sha256, args.dest_dir, args.binary, args.layout, args.cache)
        else:
            url, digest = listed(args.sums_url, args.suffix)
            log(f"{url}: sha256 {digest[:12]} from {args.sums_url}")
            install(url, digest, args.dest_dir, args.binary, args.layout, args.cache)
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
