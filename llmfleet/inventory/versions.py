"""Which LiteLLM releases an inventory may pin."""

from __future__ import annotations

import re

VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
COMPROMISED = frozenset({"1.82.7", "1.82.8"})
MINIMUM = (1, 83, 7)
FLOATING = frozenset({"latest", "main-latest", "main-stable", "stable", "main", "nightly", "dev"})


def litellm_version_problem(version: str) -> str | None:
    """Why ``version`` may not be deployed, or ``None`` when it is acceptable."""
    if version.lower() in FLOATING or not VERSION_RE.match(version):
        if version.lower() in FLOATING:
            return f"'{version}' is not a pinned release; pin an exact version such as 1.106.2"
        return f"'{version}' is not an exact release (x.y.z), e.g. 1.106.2"
    if version in COMPROMISED:
        return f"LiteLLM {version} was a compromised release (malicious package on PyPI); pin 1.83.7 or later"
    parts = tuple(int(p) for p in VERSION_RE.match(version).groups())  # type: ignore[union-attr]
    if parts < MINIMUM:
        return f"LiteLLM {version} is older than 1.83.7 and has a proxy-auth SQL injection; pin 1.83.7 or later (e.g. 1.106.2)"
    return None
