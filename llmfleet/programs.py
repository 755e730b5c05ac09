"""Programs llmfleet runs on the operator's machine, and where it finds them.

``llmfleet validate`` checks each rendered compose file with Docker Compose v2 (``config -q``).
It uses, in order: ``docker compose`` (the CLI plugin) or ``docker-compose`` 2.x on ``PATH``; the
binary ``$LLMFLEET_COMPOSE_BIN`` names; a ``docker-compose-2.*`` binary in the program cache
``${LLMFLEET_CACHE:-~/.cache/llmfleet}/bin/`` (where this repository's ``tools/`` install it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

COMPOSE_ENV = "LLMFLEET_COMPOSE_BIN"
#: What to tell an operator who has no Docker Compose v2.
COMPOSE_HOW_TO_GET = (
    "install Docker Compose v2 — the `docker compose` plugin (package docker-compose-plugin, "
    "https://docs.docker.com/compose/install/) or a standalone `docker-compose` 2.x binary on PATH — "
    f"or set {COMPOSE_ENV} to such a binary"
)


class ComposeMissing(RuntimeError):
    """No Docker Compose v2 was found; the message says where llmfleet looked and how to get one."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The program cache: ``$LLMFLEET_CACHE`` or ``~/.cache/llmfleet``."""
    env = os.environ if environ is None else environ
    value = env.get("LLMFLEET_CACHE")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "llmfleet"


def _major(command: tuple[str, ...]) -> int | None:
    """The major version ``<command> version --short`` reports, or ``None`` when it does not run."""
    try:
        proc = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"v?(\d+)\.", proc.stdout.strip()) if proc.returncode == 0 else None
    return int(match.group(1)) if match else None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.name.removeprefix("docker-compose-")))


def _find_compose(path_var: str, override: str, cache: str) -> tuple[str, ...]:
    for name, *args in (("docker", "compose"), ("docker-compose",)):
        for directory in dict.fromkeys(path_var.split(os.pathsep)):
            exe = shutil.which(name, path=directory) if directory else None
            if exe and (_major((exe, *args)) or 0) >= 2:
                return (exe, *args)
    looked = ["`docker compose` and `docker-compose` 2.x on PATH"]
    if override:
        if (_major((override,)) or 0) >= 2:
            return (override,)
        looked.append(f"{COMPOSE_ENV}={override} (not a runnable Docker Compose v2)")
    else:
        looked.append(f"{COMPOSE_ENV} (not set)")
    cached = sorted(Path(cache, "bin").glob("docker-compose-2.*"), key=_version_key, reverse=True)
    for binary in cached:
        if (_major((str(binary),)) or 0) >= 2:
            return (str(binary),)
    looked.append(f"{Path(cache, 'bin')}/docker-compose-2.*")
    raise ComposeMissing(f"no Docker Compose v2 found (looked at: {'; '.join(looked)}): {COMPOSE_HOW_TO_GET}")


def compose_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """The command that runs Docker Compose v2 (e.g. ``["/usr/bin/docker", "compose"]``); raise :class:`ComposeMissing`."""
    env = os.environ if environ is None else environ
    return list(_find_compose(env.get("PATH", os.defpath), env.get(COMPOSE_ENV, ""), str(cache_dir(env))))
