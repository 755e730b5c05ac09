"""Facts about the gateway's compose project, read from the Docker CLI on the host.

(Container health, restart counts and image identity for ``llmfleet health`` are read through
the Docker SDK instead: :mod:`llmfleet.checks.docker_state`.)
"""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class ComposeRunning(FactBase[list[str]]):
    """Services of compose project ``project`` (file ``compose_file``) that are running."""

    default = list

    def requires_command(self, project: str, compose_file: str) -> str:
        return "docker"

    def command(self, project: str, compose_file: str) -> str:
        return (
            f"docker compose -p {shlex.quote(project)} -f {shlex.quote(compose_file)} "
            "ps --status running --format '{{.Service}}' 2>/dev/null || true"
        )

    def process(self, output: list[str]) -> list[str]:
        return sorted({line.strip() for line in output if line.strip()})
