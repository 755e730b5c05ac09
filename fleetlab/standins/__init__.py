"""STAND-INs for programs the lab machines cannot have, and their packaging as mirror artifacts.

Each stand-in is a single-file Python 3 script (standard library only) whose docstring says what
real program it replaces and which behaviours it reproduces:

* :mod:`~fleetlab.standins.nvidia_smi` — ``nvidia-smi`` ("No devices were found", exit 6).

Headscale, Tailscale and Ollama are not stood in: the lab runs the real programs, built from their
Go modules (``make go-programs``).

The ``package_*`` functions write them in the shape of the real release artifacts, with
deterministic bytes (fixed mtime, uid/gid 0, sorted entries, gzip without timestamp), so their
SHA-256 only changes when the script or the version changes. The version is written into the
script (``VERSION = "..."``) so ``--version`` reports what the inventory pinned.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

__all__ = [
    "deterministic_targz",
    "package_nvidia_smi",
    "script",
]

HERE = Path(__file__).resolve().parent
#: Fixed mtime of every archive member (2024-01-01T00:00:00Z).
MTIME = 1704067200


def script(module: str, version: str | None = None) -> bytes:
    """The stand-in script ``module`` (e.g. ``"nvidia_smi"``) as shipped: one file, ``VERSION`` set to ``version``."""
    text = (HERE / f"{module}.py").read_text()
    if version is not None:
        text, n = re.subn(r'^VERSION = "[^"]*"$', f'VERSION = "{version}"', text, count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"stand-in {module} has no VERSION line")
    return text.encode()


def deterministic_targz(out: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    """Write a .tar.gz of ``{member path: (content, mode)}`` whose bytes depend on the content only."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = sorted({str(Path(p).parents[i]) for p in files for i in range(len(Path(p).parents) - 1)})
        for d in dirs:
            info = tarfile.TarInfo(d + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info)
        for path in sorted(files):
            content, mode = files[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), mode, MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out


def package_nvidia_smi(out: Path) -> Path:
    """``nvidia-smi`` in a tarball (flat)."""
    return deterministic_targz(out, {"nvidia-smi": (script("nvidia_smi"), 0o755)})
