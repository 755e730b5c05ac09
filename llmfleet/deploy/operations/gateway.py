"""The gateway's safe apply: snapshot the running configuration, apply, wait, roll back if not ready.

Used in this order by :mod:`llmfleet.deploy.gateway`::

    snap = gateway.snapshot(...)                  # only when a file will change
    files.put(...), dotenv.secret_file(...)       # the new configuration
    gateway.apply_or_rollback(..., _if=any_changed(*uploads))

Both run :mod:`llmfleet.deploy.remote.gateway` on the host; it never prints file contents.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import Sha256File

from llmfleet.deploy.operations.dotenv import SecretContent
from llmfleet.layout import GATEWAY_HELPER


@operation()
def snapshot(files: Mapping[str, str | SecretContent], snapshot_dir: str):
    """Keep the current gateway files as the configuration to roll back to, if any will change.

    ``files`` maps each managed file (absolute path) to its wanted SHA-256 (or to the
    :class:`SecretContent` of a secret file, hashed here so no hash of a secret is an argument).
    No-op when every file already has its wanted content.
    """
    changed = []
    for path, wanted in files.items():
        digest = wanted.sha256() if isinstance(wanted, SecretContent) else wanted
        if host.get_fact(Sha256File, path=path) != digest:
            changed.append(path)
    if not changed:
        host.noop("the gateway configuration is unchanged")
        return
    yield StringCommand("python3", GATEWAY_HELPER, "snapshot", "--snapshot", QuoteString(snapshot_dir), *[QuoteString(p) for p in files])


@operation(is_idempotent=False, idempotent_notice="Run it with _if=any_changed(...) of the gateway's file uploads.")
def apply_or_rollback(
    snapshot_dir: str,
    ready_url: str,
    timeout: int = 180,
    unit: str | None = None,
    compose_project: str | None = None,
    compose_file: str | None = None,
    compose: Sequence[str] = ("docker", "compose"),
):
    """Restart the gateway on its new files and wait (bounded) until ``ready_url`` answers 200.

    When it does not in ``timeout`` seconds, the snapshot is restored and the gateway restarted
    on it, and the operation fails; with no previous configuration the gateway is stopped.
    Give ``unit`` (systemd-venv runtime) or ``compose_project`` and ``compose_file`` (compose).
    """
    if unit:
        target = ["--unit", QuoteString(unit)]
    elif compose_project and compose_file:
        target = ["--project", QuoteString(compose_project), "--compose-file", QuoteString(compose_file)]
        target += ["--compose", QuoteString(" ".join(shlex.quote(c) for c in compose))]
    else:
        raise ValueError("apply_or_rollback needs unit, or compose_project and compose_file")
    yield StringCommand(
        "python3",
        GATEWAY_HELPER,
        "apply",
        "--snapshot",
        QuoteString(snapshot_dir),
        "--url",
        QuoteString(ready_url),
        "--timeout",
        str(int(timeout)),
        *target,
    )
