"""An idempotent ``tailscale up``: only when the node is not joined or its arguments changed.

The pre-auth key is minted on the Headscale host *during execution* (single-use, short expiry),
handed to the node on the command's stdin, written to a 0600 file on tmpfs for ``tailscale up
--auth-key=file:…`` and removed when the command ends: it appears in no command line, no
operation argument, no printed output and no error message.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from collections.abc import Sequence
from typing import Any

import gevent
from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.facts.files import FileContents

from llmfleet.deploy.facts.tailscale import TailscaleState, TailscaleStatus, parse_status
from llmfleet.deploy.operations.headscale import MeshError, mesh_command, mint_preauth_key
from llmfleet.deploy.operations.util import connector_kwargs, fail, first_line
from llmfleet.layout import RUN_DIR, STATE_DIR, TAILSCALE_APPLIED

AUTH_KEY_FILE = f"{RUN_DIR}/ts-authkey"


def args_digest(args: Sequence[str]) -> str:
    """The marker value for an argument list (what ``TAILSCALE_APPLIED`` holds once applied)."""
    return hashlib.sha256(("\n".join(args) + "\n").encode("utf-8")).hexdigest()


def joined(status: TailscaleState, expect_ip: str | None = None) -> bool:
    """Whether ``status`` is a running, online node (holding ``expect_ip`` when given)."""
    if status["backend_state"] != "Running" or status["online"] is False:
        return False
    return expect_ip is None or expect_ip in status["ips"]


def join_command(args: Sequence[str], digest: str, timeout: int) -> StringCommand:
    """The shell command that reads the key from stdin and runs ``tailscale up`` with it."""
    quoted = " ".join(shlex.quote(a) for a in args)
    script = (
        f'set -e; umask 077; mkdir -p {RUN_DIR}; k={AUTH_KEY_FILE}; trap \'rm -f "$k"\' EXIT; cat > "$k"; '
        f'tailscale up {quoted} --auth-key="file:$k" --timeout={int(timeout)}s; '
        f"mkdir -p {STATE_DIR}; printf '%s\\n' {digest} > {TAILSCALE_APPLIED}"
    )
    return StringCommand(script)


def find_host(state: Any, name: str) -> Any:
    """The pyinfra host whose inventory name is ``name`` (connected on demand)."""
    for candidate in state.inventory:
        if candidate.data.get("llmfleet_host") == name or candidate.name == name:
            if not candidate.connected:
                candidate.connect(reason="to mint a mesh pre-auth key", raise_exceptions=True)
            return candidate
    raise MeshError(f"the Headscale host {name} is not in the pyinfra inventory")


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def wait_joined(state: Any, node: Any, expect_ip: str | None, timeout: int) -> TailscaleState:
    """Poll ``tailscale status --json`` until the node is joined (bounded); raise otherwise."""
    deadline = time.monotonic() + timeout
    status = parse_status("")
    while True:
        ok, output = node.run_shell_command(
            StringCommand("tailscale", "status", "--json"), print_output=False, print_input=False, **connector_kwargs(node)
        )
        status = parse_status("\n".join(output.stdout_lines)) if ok else status
        if joined(status, expect_ip):
            return status
        if time.monotonic() >= deadline:
            raise MeshError(
                f"{node.name} is not online on the mesh after {timeout} s: state {status['backend_state']}, "
                f"IPs {', '.join(status['ips']) or 'none'}" + (f", expected {expect_ip}" if expect_ip else "")
            )
        gevent.sleep(1)


def registered_ips(state: Any, control: Any) -> set[str]:
    """The IPs of every node Headscale has registered (``headscale nodes list -o json``)."""
    lines = mesh_command(state, control, StringCommand("headscale", "nodes", "list", "-o", "json"))
    text = "\n".join(lines).strip() or "[]"
    try:
        nodes = json.loads(text[text.find("[") :] if "[" in text else "[]") or []
    except ValueError:
        return set()
    return {str(ip) for n in nodes if isinstance(n, dict) for ip in (n.get("ip_addresses") or n.get("ipAddresses") or [])}


def wait_turn(state: Any, control: Any, join_after: Sequence[str], timeout: int) -> None:
    """Wait (bounded) until every node that joins before this one holds its IP on Headscale.

    Headscale hands out addresses in join order and pyinfra runs hosts in no set order, so each
    node waits for the ones whose inventory IPs are lower; then it gets the next IP, its own.
    """
    if not join_after:
        return
    deadline = time.monotonic() + timeout
    while True:
        missing = sorted(set(join_after) - registered_ips(state, control))
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise MeshError(f"the nodes holding {', '.join(missing)} did not join within {timeout} s (they join first)")
        gevent.sleep(1)


def join_mesh(
    state: Any,
    host: Any,
    args: list[str],
    digest: str,
    control_host: str,
    user: str,
    headscale_version: str,
    expect_ip: str | None,
    key_expiry: str,
    timeout: int,
    tags: Sequence[str] = (),
    join_after: Sequence[str] = (),
) -> bool:
    """Execution-time callback: wait for the nodes before this one, mint a key on the control host,
    join, verify. Never logs the key."""
    key = ""
    try:
        control = find_host(state, control_host)
        wait_turn(state, control, join_after, 3 * timeout)
        key = mint_preauth_key(state, control, user, headscale_version, key_expiry, tags=tags)
        ok, output = host.run_shell_command(
            join_command(args, digest, timeout),
            _stdin=key,
            print_output=False,
            print_input=state.print_input,
            **connector_kwargs(host),
        )
        if not ok:
            detail = _scrub(" ".join(line.strip() for line in output.stderr_lines)[-400:], key)
            raise MeshError(f"tailscale up failed on {host.name}: {detail or 'no error output'}")
        status = wait_joined(state, host, expect_ip, timeout)
        host.log(f"joined the mesh as {', '.join(status['ips'])}")
        return True
    except MeshError as exc:
        host.log_styled(_scrub(str(exc), key), fg="red", log_func=logger.error)
        return False
    finally:
        key = ""


@operation()
def up(
    args: Sequence[str],
    control_host: str,
    user: str,
    headscale_version: str,
    expect_ip: str | None = None,
    key_expiry: str = "10m",
    timeout: int = 60,
    tags: Sequence[str] = (),
    join_after: Sequence[str] = (),
):
    """Join the mesh with ``args`` (the rendered ``tailscale up`` arguments, without a key).

    ``tags``: the node's ACL tags, carried by its pre-auth key where Headscale takes them from the
    key (0.28+); they count as arguments (a change of tags joins again). ``join_after``: the mesh IPs
    of the nodes that must hold their addresses first (Headscale allocates in join order).

    No-op when the node is running and was last brought up with exactly these arguments.
    Otherwise, at execution, a pre-auth key is minted for ``user`` on ``control_host`` and the
    node joins; the operation fails unless the node is online (with ``expect_ip``) within ``timeout``.
    Run it with ``_serial=True``: Headscale hands out IPs in join order.
    """
    status = host.get_fact(TailscaleStatus)
    applied = first_line(host.get_fact(FileContents, path=TAILSCALE_APPLIED))
    digest = args_digest([*args, f"# key tags: {','.join(tags)}"] if tags else args)
    if status["backend_state"] == "Running" and applied == digest:
        host.noop(f"joined the mesh with these arguments ({', '.join(status['ips']) or 'no IP yet'})")
        return
    yield FunctionCommand(
        join_mesh,
        (list(args), digest, control_host, user, headscale_version, expect_ip, key_expiry, int(timeout), list(tags), list(join_after)),
        {},
    )


@operation()
def verify_online(expect_ip: str | None = None, timeout: int = 120):
    """Fail unless the node is running, online and holds ``expect_ip`` (the inventory's mesh IP).

    A node that runs with the right address but is not online yet (it reconnects after Headscale
    restarted, e.g. on an upgrade) is waited for, up to ``timeout`` seconds.
    """
    status = host.get_fact(TailscaleStatus)
    if joined(status, expect_ip):
        host.noop(f"online on the mesh as {', '.join(status['ips'])}")
        return
    if status["backend_state"] == "Running" and (expect_ip is None or expect_ip in status["ips"]):
        yield FunctionCommand(wait_online, (expect_ip, int(timeout)), {})
        return
    yield fail(
        f"not online on the mesh: state {status['backend_state']}, IPs {', '.join(status['ips']) or 'none'}"
        + (f"; the inventory says {expect_ip} (Headscale allocates in join order: check `headscale nodes list`)" if expect_ip else "")
    )


def wait_online(state: Any, host: Any, expect_ip: str | None, timeout: int) -> bool:
    """Execution-time callback of :func:`verify_online`: poll until the node is online again (bounded)."""
    try:
        status = wait_joined(state, host, expect_ip, timeout)
    except MeshError as exc:
        host.log_styled(str(exc), fg="red", log_func=logger.error)
        return False
    host.log(f"online on the mesh again as {', '.join(status['ips'])}")
    return True
