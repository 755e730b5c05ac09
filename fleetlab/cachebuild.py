"""Build a cache directory once: under a lock, into a temporary directory renamed into place.

A directory counts as built when it holds ``SHA256SUMS`` (written last by the builder), so a
build that failed half-way is never mistaken for a finished one, and two processes building the
same key wait for each other instead of racing.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from pathlib import Path

DONE_MARKER = "SHA256SUMS"


def built_once(home: Path, build: Callable[[Path], None]) -> Path:
    """Return ``home``, first running ``build(tmp)`` if it is not built yet.

    ``build`` fills the empty directory ``tmp`` and must write ``SHA256SUMS`` there last;
    ``tmp`` then replaces ``home``. An exception from ``build`` leaves ``home`` as it was.
    """
    if (home / DONE_MARKER).is_file():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / DONE_MARKER).is_file():
            return home
        tmp = home.with_name(home.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        build(tmp)
        if not (tmp / DONE_MARKER).is_file():
            raise RuntimeError(f"building {home} wrote no {DONE_MARKER}")
        shutil.rmtree(home, ignore_errors=True)
        tmp.rename(home)
    return home
