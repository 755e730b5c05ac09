"""Facts about files deploy verified earlier (no re-hashing of large artifacts on every run)."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase

#: Suffix of the marker ``artifact.py fetch`` writes beside a verified file ("SHA256 SIZE MTIME").
VERIFIED_SUFFIX = ".llmfleet-sha256"


class VerifiedSha256(FactBase[str | None]):
    """The SHA-256 ``path`` was verified to have, if the file is still the one verified (same size
    and mtime); ``None`` when it is missing, never verified, or changed since."""

    def command(self, path: str) -> str:
        f = shlex.quote(path)
        m = shlex.quote(path + VERIFIED_SUFFIX)
        return f"if [ -f {f} ] && [ -f {m} ]; then echo \"$(cat {m}) $(stat -c '%s %Y' {f})\"; fi || true"

    def process(self, output: list[str]) -> str | None:
        parts = " ".join(output).split()
        if len(parts) != 5:
            return None
        sha, size, mtime, now_size, now_mtime = parts
        return sha if (size, mtime) == (now_size, now_mtime) else None
