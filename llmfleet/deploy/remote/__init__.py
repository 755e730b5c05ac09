"""Stdlib-only Python helpers that deploy uploads to ``/usr/local/lib/llmfleet/`` on every host.

They run with the host's ``python3`` (3.9 or later: Debian 11+, Ubuntu 22.04+), so deploy needs
no curl, wget or unzip on the hosts, and every download is SHA-256 verified *before* it is moved
into place:

* ``artifact.py`` — ``fetch`` one file, ``install`` a pinned binary or archive into a versioned directory;
* ``wait.py``     — wait (bounded) for an HTTP endpoint to answer 200;
* ``warmup.py``   — load Ollama models after deploy and report each cold load time;
* ``gateway.py``  — snapshot the gateway's files, apply a new configuration, wait for readiness,
  and roll back to the snapshot when it does not become ready.
"""

from __future__ import annotations

from pathlib import Path

HELPER_NAMES = ("artifact.py", "wait.py", "gateway.py", "warmup.py")


def helper_source(name: str) -> Path:
    """The local file of helper ``name`` (one of :data:`HELPER_NAMES`)."""
    if name not in HELPER_NAMES:
        raise ValueError(f"no remote helper {name!r}")
    return Path(__file__).resolve().parent / name
