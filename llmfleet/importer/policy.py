"""Version policy and the pins a draft uses when the source does not give one.

Images: a reference is *pinned* when it carries a digest, or a tag that names a release
(``main-v1.106.2``, ``16.4``, ``server-cuda-b4589``). ``latest``, ``main-latest``, ``server-cuda``,
a bare major (``16``) or no tag at all float: every pull may bring another build.

LiteLLM releases are judged by the advisory table of :mod:`llmfleet.versions` (the inventory refuses
the same releases).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Pins used in a draft when the source does not pin a version (every use is marked TODO): the one
# home of default pins is llmfleet.versions; they are re-exported here for the importer's modules.
from llmfleet.versions import (
    DEFAULT_HEADSCALE_VERSION as DEFAULT_HEADSCALE_VERSION,
)
from llmfleet.versions import (
    DEFAULT_LITELLM_VERSION as DEFAULT_LITELLM_VERSION,
)
from llmfleet.versions import (
    DEFAULT_LLAMACPP_VERSION as DEFAULT_LLAMACPP_VERSION,
)
from llmfleet.versions import (
    DEFAULT_OLLAMA_VERSION as DEFAULT_OLLAMA_VERSION,
)
from llmfleet.versions import litellm_version_problem

_VERSION = re.compile(r"(?<![0-9])v?([0-9]+)\.([0-9]+)\.([0-9]+)(?![0-9])")
_RELEASE_TAG = re.compile(r"[0-9]+\.[0-9]+|(^|[-_.])b[0-9]{3,}($|[-_.])")
_LLAMACPP_BUILD = re.compile(r"(?:^|[-_.])(b[0-9]{3,})(?:$|[-_.])")


@dataclass(frozen=True)
class ImageRef:
    """A parsed container image reference."""

    repository: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        """True when every pull yields the same build (digest or release tag)."""
        return self.digest is not None or (self.tag is not None and _RELEASE_TAG.search(self.tag) is not None)

    @property
    def name(self) -> str:
        """The last path segment of the repository (``litellm``, ``llama.cpp``, ``ollama``)."""
        return self.repository.rsplit("/", 1)[-1]


def parse_image(ref: str) -> ImageRef:
    """Split ``registry/repo:tag@sha256:...`` into its parts."""
    ref = ref.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    repository, tag = ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = ref.rsplit(":", 1)
    return ImageRef(repository=repository.lower(), tag=tag or None, digest=digest or None)


def version_in(text: str) -> tuple[int, int, int] | None:
    """The first ``x.y.z`` version in ``text`` (a tag such as ``main-v1.83.7-stable``)."""
    match = _VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def version_text(version: tuple[int, int, int]) -> str:
    """``(1, 106, 2)`` → ``1.106.2``."""
    return ".".join(str(part) for part in version)


def litellm_version_refusal(version: tuple[int, int, int]) -> str | None:
    """Why policy refuses this LiteLLM release, or ``None`` when it is acceptable.

    The policy itself lives in :mod:`llmfleet.versions` (the inventory refuses the same releases).
    """
    return litellm_version_problem(version_text(version))


def llamacpp_build_in(tag: str) -> str | None:
    """The llama.cpp build (``b4589``) named in an image tag such as ``server-cuda-b4589``."""
    match = _LLAMACPP_BUILD.search(tag)
    return match[1] if match else None
