"""Headscale users, and pre-auth keys minted on the control host during the run (never printed)."""

from __future__ import annotations

import json
from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from llmfleet.deploy.facts.headscale import HeadscaleUsers
from llmfleet.deploy.operations.util import connector_kwargs
from llmfleet.versions import HEADSCALE_USER_ID_FLAG, version_tuple

#: First Headscale release whose ``preauthkeys create --user`` takes the user's numeric ID.
USER_ID_FLAG_VERSION = HEADSCALE_USER_ID_FLAG


class MeshError(RuntimeError):
    """The mesh could not be joined (the message never contains a key)."""


@operation()
def user(user_name: str):
    """Create the Headscale user ``user_name`` unless it exists."""
    if any(u["name"] == user_name for u in host.get_fact(HeadscaleUsers)):
        host.noop(f"headscale user {user_name} exists")
        return
    yield StringCommand("headscale", "users", "create", QuoteString(user_name))


def _run(state: Any, control: Any, command: StringCommand) -> list[str]:
    ok, output = control.run_shell_command(command, print_output=False, print_input=state.print_input, **connector_kwargs(control))
    if not ok:
        detail = " ".join(line.strip() for line in output.stderr_lines)[-300:]
        raise MeshError(f"`{command}` failed on {control.name}: {detail or 'no error output'}")
    return output.stdout_lines


def mint_preauth_key(state: Any, control: Any, user: str, headscale_version: str, expiry: str = "10m", ephemeral: bool = False) -> str:
    """Create a single-use pre-auth key for ``user`` on the control host and return it.

    The key is read from the command's output, which is never printed (``print_output=False``
    even under ``-vvv``); callers must keep it out of command lines and messages.
    """
    ident = user
    if version_tuple(headscale_version) >= USER_ID_FLAG_VERSION:
        users = json.loads("\n".join(_run(state, control, StringCommand("headscale", "users", "list", "-o", "json"))) or "[]")
        match = [u for u in users or [] if u.get("name") == user]
        if not match:
            raise MeshError(f"headscale user {user} does not exist on {control.name}")
        ident = str(match[0]["id"])
    command = StringCommand("headscale", "preauthkeys", "create", "--user", QuoteString(ident), "--expiration", expiry)
    if ephemeral:
        command = StringCommand(command, "--ephemeral")
    lines = [line.strip() for line in _run(state, control, command) if line.strip()]
    key = lines[-1] if lines else ""
    if not key or any(c.isspace() for c in key) or len(key) < 16:
        raise MeshError(f"headscale on {control.name} did not print a pre-auth key")
    return key
