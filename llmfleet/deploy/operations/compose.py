"""A compose project kept up: ``docker compose up -d`` only when a service is not running."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from llmfleet.deploy.facts.docker import ComposeRunning


@operation()
def up(project: str, compose_file: str, services: Sequence[str], compose: Sequence[str] = ("docker", "compose")):
    """Start the project's containers unless every one of ``services`` is running (``compose``: the Compose v2 command)."""
    command = " ".join(shlex.quote(c) for c in compose)
    running = set(host.get_fact(ComposeRunning, project=project, compose_file=compose_file, compose=command))
    missing = [s for s in services if s not in running]
    if not missing:
        host.noop(f"compose project {project} is running ({', '.join(services)})")
        return
    yield StringCommand(
        *(QuoteString(c) for c in compose), "-p", QuoteString(project), "-f", QuoteString(compose_file), "up", "-d", "--remove-orphans"
    )
