"""Locate the real programs that tests and demos run against.

They are provisioned by ``tools/*.sh`` (``make programs``) into a version-keyed cache,
``${LLMFLEET_CACHE:-~/.cache/llmfleet}``, never into the repository.  Each lookup honours an
environment variable that points at a binary directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from llmfleet.programs import cache_dir

__all__ = [
    "COMPOSE_VERSION",
    "LITELLM_VERSION",
    "LLAMA_CPP_PYTHON_VERSION",
    "PROGRAMS",
    "Program",
    "ProgramMissing",
    "cache_dir",
    "compose_bin",
    "go_release",
    "litellm_bin",
    "llama_server_bin",
]

# Keep in sync with the defaults in tools/install-*.sh and tools/build-llama-server.sh.
LITELLM_VERSION = "1.106.2"
COMPOSE_VERSION = "2.40.3"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"


class ProgramMissing(RuntimeError):
    """A required program is not installed; the message names the make target to run."""

    def __init__(self, program: str, path: Path, make_target: str, env_var: str) -> None:
        self.program = program
        self.path = path
        self.make_target = make_target
        self.env_var = env_var
        super().__init__(f"{program} not found at {path}: run `make {make_target}` (or set {env_var} to an existing binary)")


@dataclass(frozen=True)
class Program:
    """How one program is found: its env override, its cache path and its make target."""

    name: str
    env_var: str
    make_target: str
    version_env: str
    default_version: str
    relpath: str  # relative to the cache dir; "{v}" is replaced by the version

    def default_path(self) -> Path:
        """The cache location for the configured version (it may not exist)."""
        version = os.environ.get(self.version_env) or self.default_version
        return cache_dir() / self.relpath.format(v=version)

    def locate(self) -> Path:
        """Return the executable's path, or raise :class:`ProgramMissing`."""
        override = os.environ.get(self.env_var)
        path = Path(override).expanduser() if override else self.default_path()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ProgramMissing(self.name, path, self.make_target, self.env_var)
        return path


LITELLM = Program(
    "litellm",
    "LLMFLEET_LITELLM_BIN",
    "litellm-proxy",
    "LITELLM_VERSION",
    LITELLM_VERSION,
    "litellm-{v}/bin/litellm",
)
COMPOSE = Program(
    "docker-compose",
    "LLMFLEET_COMPOSE_BIN",
    "compose-bin",
    "COMPOSE_VERSION",
    COMPOSE_VERSION,
    "bin/docker-compose-{v}",
)
LLAMA_SERVER = Program(
    "llama-server",
    "LLMFLEET_LLAMA_SERVER_BIN",
    "llama-server",
    "LLAMA_CPP_PYTHON_VERSION",
    LLAMA_CPP_PYTHON_VERSION,
    "llama-server-{v}/llama-server",
)
PROGRAMS: dict[str, Program] = {p.name: p for p in (LITELLM, COMPOSE, LLAMA_SERVER)}


def litellm_bin() -> Path:
    """Path of the ``litellm`` proxy CLI (env ``LLMFLEET_LITELLM_BIN`` overrides).

    Raises:
        ProgramMissing: not installed; run ``make litellm-proxy``.
    """
    return LITELLM.locate()


def compose_bin() -> Path:
    """Path of the Docker Compose v2 binary (env ``LLMFLEET_COMPOSE_BIN`` overrides).

    Raises:
        ProgramMissing: not installed; run ``make compose-bin``.
    """
    return COMPOSE.locate()


def llama_server_bin() -> Path:
    """Path of llama.cpp's ``llama-server`` (env ``LLMFLEET_LLAMA_SERVER_BIN`` overrides).

    Raises:
        ProgramMissing: not installed; run ``make llama-server``.
    """
    return LLAMA_SERVER.locate()


#: The Go programs ``tools/build-go-programs.sh`` (``make go-programs``) builds, and the release-archive
#: file each leaves in ``$LLMFLEET_CACHE/go-programs/<name>-<version>/`` (named as upstream names it).
GO_RELEASE_FILES = {
    "headscale": "headscale_{v}_linux_amd64",
    "tailscale": "tailscale_{v}_amd64.tgz",
    "ollama": "ollama-linux-amd64.tgz",
}


def go_release(name: str, version: str) -> Path:
    """The release file of Go program ``name`` at ``version`` built into the cache.

    Raises:
        ProgramMissing: not built; run ``make go-programs``.
    """
    path = cache_dir() / "go-programs" / f"{name}-{version}" / GO_RELEASE_FILES[name].format(v=version)
    if not path.is_file() or not (path.parent / ".installed").is_file():
        raise ProgramMissing(f"{name} {version}", path, "go-programs", "LLMFLEET_CACHE")
    return path
