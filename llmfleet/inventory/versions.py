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


#: Installed beside LiteLLM in a ``systemd-venv`` runtime: without it a request with no key gets
#: HTTP 500 instead of 401 (LiteLLM's auth error path imports prisma; the official image ships it).
PRISMA_REQUIREMENT = "prisma==0.15.0"
#: Python packages a LiteLLM callback needs that ``litellm[proxy]`` does not bring (the official
#: image has them). Measured with 1.106.2: ``callbacks: [prometheus]`` without ``prometheus_client``
#: makes the proxy exit at startup (ModuleNotFoundError).
CALLBACK_REQUIREMENTS: dict[str, str] = {"prometheus": "prometheus_client==0.26.0"}


def litellm_venv_requirements(litellm_version: str, callbacks: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What pip installs for a ``systemd-venv`` gateway: LiteLLM [proxy], prisma, and each callback's package."""
    extra = sorted({CALLBACK_REQUIREMENTS[c] for c in callbacks if c in CALLBACK_REQUIREMENTS})
    return [f"litellm[proxy]=={litellm_version}", PRISMA_REQUIREMENT, *extra]
