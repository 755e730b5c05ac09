"""A flat apt repository with exactly the Debian packages a deploy installs that the base image lacks.

apt on this machine computes what ``apt-get install PACKAGES`` would install on top of the *base
image's* dpkg status (``-o Dir::State::status=<rootfs>/var/lib/dpkg/status``, recommends included,
as a default ``apt-get install`` would), downloads those exact .debs from the configured Debian
mirror, and indexes them (``dpkg-scanpackages``: the index lists every .deb's SHA-256, which apt
verifies). Lab hosts use it as their only apt source::

    deb [trusted=yes] http://10.231.0.1:8099/debian ./

``trusted=yes``: the index is ours, not signed by Debian (see README-lab.md, open problems); each
.deb is still checked against the SHA-256 in the index. Cached in
``${LLMFLEET_CACHE}/lab-mirror/apt-<key>/`` (key: package list + base image).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from fleetlab.cachebuild import built_once
from fleetlab.programs import cache_dir

__all__ = ["AptRepoError", "ensure_apt_repo"]

_INST_RE = re.compile(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) ")


class AptRepoError(RuntimeError):
    """The repository could not be built; the message has apt's output."""


def _run(argv: Sequence[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise AptRepoError(f"`{' '.join(argv)}` failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def packages_to_fetch(rootfs: Path, packages: Sequence[str]) -> list[tuple[str, str]]:
    """(name, version) of every package ``apt-get install packages`` would add to the image."""
    status = rootfs / "var/lib/dpkg/status"
    out = _run(["apt-get", "-s", "-q", "-o", f"Dir::State::status={status}", "install", *packages])
    return [(m[1], m[2]) for line in out.splitlines() if (m := _INST_RE.match(line))]


def ensure_apt_repo(rootfs: Path, packages: Sequence[str], *, log=print) -> Path:
    """Return the repository directory for ``packages`` on top of ``rootfs``, building it if needed."""
    key = hashlib.sha256(f"{sorted(packages)}\n{rootfs}".encode()).hexdigest()[:12]
    home = cache_dir() / "lab-mirror" / f"apt-{key}"

    def build(tmp: Path) -> None:
        wanted = packages_to_fetch(rootfs, packages)
        log(f"[lab] apt repository: downloading {len(wanted)} .debs for {' '.join(packages)} ...")
        tmp.chmod(0o755)
        if wanted:
            _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *(f"{n}={v}" for n, v in wanted)], cwd=tmp)
        index = _run(["dpkg-scanpackages", "--multiversion", "."], cwd=tmp)
        (tmp / "Packages").write_text(index)
        with gzip.GzipFile(tmp / "Packages.gz", "wb", mtime=0) as gz:
            gz.write(index.encode())
        lines = [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}" for path in sorted(tmp.iterdir())]
        (tmp / "SHA256SUMS").write_text("\n".join(lines) + "\n")

    return built_once(home, build)
