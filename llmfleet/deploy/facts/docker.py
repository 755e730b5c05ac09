"""Facts about the gateway's compose project, read from the Docker CLI on the host.

(Container health, restart counts and image identity for ``llmfleet health`` are read through
the Docker SDK instead: :mod:`llmfleet.checks.docker_state`.)
"""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class ComposeRunning(FactBase[list[str]]):
    """Services of compose project ``project`` (file ``compose_file``) that are running.

    ``compose`` is the Docker Compose v2 command line, already shell-quoted (``docker compose``, or
    the path of a pinned standalone binary).
    """

    default = list

    def requires_command(self, project: str, compose_file: str, compose: str = "docker compose") -> str:
        return shlex.split(compose)[0]

    def command(self, project: str, compose_file: str, compose: str = "docker compose") -> str:
        return (
            f"{compose} -p {shlex.quote(project)} -f {shlex.quote(compose_file)} "
            "ps --status running --format '{{.Service}}' 2>/dev/null || true"
        )

    def process(self, output: list[str]) -> list[str]:
        return sorted({line.strip() for line in output if line.strip()})


class ImageId(FactBase[str | None]):
    """The ID (``sha256:...``) of the engine's image ``ref``, or None when it has none."""

    def requires_command(self, ref: str) -> str:
        return "docker"

    def command(self, ref: str) -> str:
        return f"docker image inspect --format '{{{{.Id}}}}' {shlex.quote(ref)} 2>/dev/null || true"

    def process(self, output: list[str]) -> str | None:
        value = next((line.strip() for line in output if line.strip()), "")
        if not value:
            return None
        return value if value.startswith("sha256:") else f"sha256:{value}"
