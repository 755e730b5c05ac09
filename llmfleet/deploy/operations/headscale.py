"""Headscale users, and pre-auth keys minted on the control host during the run (never printed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from llmfleet.deploy.facts.headscale import HeadscaleUsers, HeadscaleVersion
from llmfleet.deploy.operations.util import connector_kwargs, fail
from llmfleet.render import key_carries_tags
from llmfleet.versions import HEADSCALE_USER_ID_FLAG, headscale_version_problem, version_tuple

#: First Headscale release whose ``preauthkeys create --user`` takes the user's numeric ID.
USER_ID_FLAG_VERSION = HEADSCALE_USER_ID_FLAG


class MeshError(RuntimeError):
    """The mesh could not be joined (the message never contains a key)."""


def upgrade_refusal(installed: str | None, target: str) -> str | None:
    """Why going from the installed Headscale to ``target`` must not happen (``None``: it may).

    A downgrade is refused (the database was migrated forward), and so is skipping a minor release:
    Headscale migrates its database one minor at a time (0.28 dropped the migrations of pre-0.25
    databases; 0.29 itself refuses to start after a skipped minor or a downgrade).
    """
    if installed is None or installed == target:
        return None
    have, want = version_tuple(installed)[:3], version_tuple(target)[:3]
    if want < have:
        return f"Headscale {installed} is installed; {target} would be a downgrade (its database is already migrated): pin {installed} or newer"
    if want[:1] == have[:1] and want[1] > have[1] + 1:
        step = f"{have[0]}.{have[1] + 1}"
        why = (
            f"Headscale {installed} is installed; {target} skips minor releases: upgrade to the newest {step}.x first, one minor at a time"
        )
        if headscale_version_problem(f"{step}.0"):
            why += f" (llmfleet does not deploy {step}, which its lab never ran: take that step by hand, then pin the next minor)"
        return why
    return None


@operation()
def upgrade_allowed(target: str):
    """Fail, before anything of Headscale changes, when ``target`` downgrades or skips a minor release."""
    installed = host.get_fact(HeadscaleVersion)
    why = upgrade_refusal(installed, target)
    if why is None:
        host.noop(f"Headscale {installed or 'not installed'} -> {target} is allowed")
        return
    yield fail(why)


@operation()
def user(user_name: str):
    """Create the Headscale user ``user_name`` unless it exists."""
    if any(u["name"] == user_name for u in host.get_fact(HeadscaleUsers)):
        host.noop(f"headscale user {user_name} exists")
        return
    yield StringCommand("headscale", "users", "create", QuoteString(user_name))


def mesh_command(state: Any, control: Any, command: StringCommand) -> list[str]:
    """Run ``command`` on the control host (output never printed); its stdout lines. Raises :class:`MeshError`."""
    return _run(state, control, command)


def _run(state: Any, control: Any, command: StringCommand) -> list[str]:
    ok, output = control.run_shell_command(command, print_output=False, print_input=state.print_input, **connector_kwargs(control))
    if not ok:
        detail = " ".join(line.strip() for line in output.stderr_lines)[-300:]
        raise MeshError(f"`{command}` failed on {control.name}: {detail or 'no error output'}")
    return output.stdout_lines


def mint_preauth_key(
    state: Any,
    control: Any,
    user: str,
    headscale_version: str,
    expiry: str = "10m",
    ephemeral: bool = False,
    tags: Sequence[str] = (),
) -> str:
    """Create a single-use pre-auth key on the control host and return it.

    Per version: ``--user NAME`` (0.23-0.25), ``--user ID`` (0.26-0.27), and from 0.28, where tags are
    a node's identity, ``--tags`` (the node's tags, no user) when ``tags`` are given.
    The key is read from the command's output, which is never printed (``print_output=False``
    even under ``-vvv``); callers must keep it out of command lines and messages.
    """
    user_id = None
    if not (tags and key_carries_tags(headscale_version)) and version_tuple(headscale_version) >= USER_ID_FLAG_VERSION:
        users = json.loads("\n".join(_run(state, control, StringCommand("headscale", "users", "list", "-o", "json"))) or "[]")
        match = [u for u in users or [] if u.get("name") == user]
        if not match:
            raise MeshError(f"headscale user {user} does not exist on {control.name}")
        user_id = str(match[0]["id"])
    argv = preauth_key_argv(headscale_version, user, expiry, tags=tags, user_id=user_id)
    return _create_key(state, control, StringCommand(*(QuoteString(a) if i > 2 else a for i, a in enumerate(argv))), ephemeral)


def preauth_key_argv(headscale_version: str, user: str, expiry: str, *, tags: Sequence[str] = (), user_id: str | None = None) -> list[str]:
    """The ``headscale preauthkeys create`` command of ``headscale_version``: ``--tags`` (0.28+, tags given),
    ``--user ID`` (0.26-0.27: ``user_id``, the user's numeric ID) or ``--user NAME`` (0.23-0.25)."""
    base = ["headscale", "preauthkeys", "create"]
    if tags and key_carries_tags(headscale_version):
        return [*base, "--tags", ",".join(tags), "--expiration", expiry]
    if version_tuple(headscale_version) >= USER_ID_FLAG_VERSION:
        if user_id is None:
            raise MeshError(f"Headscale {headscale_version} takes the user's numeric ID (--user ID); it is not known")
        return [*base, "--user", user_id, "--expiration", expiry]
    return [*base, "--user", user, "--expiration", expiry]


def _create_key(state: Any, control: Any, command: StringCommand, ephemeral: bool) -> str:
    if ephemeral:
        command = StringCommand(command, "--ephemeral")
    lines = [line.strip() for line in _run(state, control, command) if line.strip()]
    key = lines[-1] if lines else ""
    if not key or any(c.isspace() for c in key) or len(key) < 16:
        raise MeshError(f"headscale on {control.name} did not print a pre-auth key")
    return key
