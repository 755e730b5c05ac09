"""The execution-time join: a key minted on the control host, handed over on stdin, never shown."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from llmfleet.deploy.operations.headscale import MeshError, mint_preauth_key, preauth_key_argv
from llmfleet.deploy.operations.tailscale import AUTH_KEY_FILE, args_digest, join_command, join_mesh
from llmfleet.layout import TAILSCALE_APPLIED

KEY = "hskey-auth-0123456789abcdefSECRETabcdef"
ARGS = ["--login-server=https://hs.lab.example", "--hostname=gpu1", "--advertise-tags=tag:gpu", "--reset"]


@dataclass
class Output:
    stdout_lines: list[str]
    stderr_lines: list[str] = field(default_factory=list)


@dataclass
class RecordingHost:
    """A host whose commands are recorded and answered by substring."""

    name: str
    answers: dict[str, tuple[bool, list[str], list[str]]]
    data: dict[str, Any] = field(default_factory=dict)
    connected: bool = True
    calls: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    current_op_global_arguments: dict[str, Any] | None = None

    def run_shell_command(self, command: Any, **kwargs: Any) -> tuple[bool, Output]:
        text = command.get_raw_value() if hasattr(command, "get_raw_value") else str(command)
        self.calls.append({"command": text, "masked": str(command), **kwargs})
        for needle, (ok, out, err) in self.answers.items():
            if needle in text:
                return ok, Output(out, err)
        return True, Output([])

    def log(self, message: str, **kwargs: Any) -> None:
        self.logs.append(message)

    def log_styled(self, message: str, **kwargs: Any) -> None:
        self.logs.append(message)


class State:
    print_input = True
    print_output = True  # as under -vvv: the callbacks must still not print the key

    def __init__(self, hosts: list[RecordingHost]):
        self.inventory = hosts


def status(ip: str) -> str:
    return json.dumps({"BackendState": "Running", "Self": {"TailscaleIPs": [ip], "Online": True}})


def make(control_answers: dict | None = None, node_answers: dict | None = None) -> tuple[RecordingHost, RecordingHost]:
    control = RecordingHost("gw1", control_answers or {"preauthkeys create": (True, [KEY], [])}, data={"llmfleet_host": "gw1"})
    node = RecordingHost(
        "gpu1", node_answers or {"tailscale status --json": (True, [status("100.64.0.2")], [])}, data={"llmfleet_host": "gpu1"}
    )
    return control, node


def run_join(control: RecordingHost, node: RecordingHost, expect_ip: str = "100.64.0.2", version: str = "0.23.0") -> bool:
    return join_mesh(State([control, node]), node, ARGS, args_digest(ARGS), "gw1", "llmfleet", version, expect_ip, "10m", 1)


def everything_shown(*hosts: RecordingHost) -> str:
    shown = []
    for h in hosts:
        shown += h.logs
        for call in h.calls:
            shown += [call["command"], call["masked"]]
    return "\n".join(shown)


def test_join_mints_on_control_and_passes_the_key_on_stdin_only() -> None:
    control, node = make()
    assert run_join(control, node) is True
    (mint,) = control.calls
    assert mint["command"] == "headscale preauthkeys create --user llmfleet --expiration 10m"
    assert mint["print_output"] is False, "the key is read from output that must never be printed"
    join = node.calls[0]
    assert join["_stdin"] == KEY
    assert join["print_output"] is False
    assert '--auth-key="file:$k"' in join["command"] and f"k={AUTH_KEY_FILE}" in join["command"]
    assert "trap 'rm -f \"$k\"' EXIT" in join["command"], "the key file is removed whatever happens"
    assert TAILSCALE_APPLIED in join["command"]
    assert KEY not in everything_shown(control, node)
    assert node.logs == ["joined the mesh as 100.64.0.2"]


def test_join_fails_when_the_node_gets_another_ip() -> None:
    control, node = make(node_answers={"tailscale status --json": (True, [status("100.64.0.9")], [])})
    assert run_join(control, node) is False
    assert "expected 100.64.0.2" in node.logs[-1]
    assert KEY not in everything_shown(control, node)


def test_join_failure_message_is_scrubbed_of_the_key() -> None:
    control, node = make(node_answers={"tailscale up": (False, [], [f"backend error: invalid key: {KEY} not valid"])})
    assert run_join(control, node) is False
    assert "tailscale up failed on gpu1" in node.logs[-1]
    assert KEY not in everything_shown(control, node)


def test_join_fails_cleanly_when_headscale_cannot_mint() -> None:
    control, node = make(control_answers={"preauthkeys create": (False, [], ["user not found"])})
    assert run_join(control, node) is False
    assert "user not found" in node.logs[-1]
    assert node.calls == [], "nothing ran on the node without a key"


def test_join_finds_an_unconnected_control_host() -> None:
    control, node = make()
    control.connected = False
    control.connect = lambda **kw: setattr(control, "connected", True)  # type: ignore[attr-defined]
    assert run_join(control, node) is True
    assert control.connected


def test_mint_uses_the_user_id_from_headscale_0_26() -> None:
    users = json.dumps([{"id": "7", "name": "llmfleet"}])
    control, _ = make(control_answers={"users list": (True, [users], []), "preauthkeys create": (True, [KEY], [])})
    assert mint_preauth_key(State([control]), control, "llmfleet", "0.26.1") == KEY
    assert control.calls[-1]["command"] == "headscale preauthkeys create --user 7 --expiration 10m"


def test_a_node_waits_for_the_nodes_with_lower_ips_then_joins() -> None:
    nodes = json.dumps([{"id": 1, "given_name": "gw1", "ip_addresses": ["100.64.0.1", "fd7a:115c:a1e0::1"]}])
    control, node = make(control_answers={"nodes list": (True, [nodes], []), "preauthkeys create": (True, [KEY], [])})
    state = State([control, node])
    args = (ARGS, args_digest(ARGS), "gw1", "llmfleet", "0.29.2", "100.64.0.2", "10m", 1, ["tag:gpu"], ["100.64.0.1"])
    assert join_mesh(state, node, *args) is True
    assert [c["command"].split()[1] for c in control.calls] == ["nodes", "preauthkeys"], "waited for gw1, then minted"


def test_a_node_whose_predecessor_never_joins_fails_in_bounded_time() -> None:
    control, node = make(control_answers={"nodes list": (True, ["[]"], []), "preauthkeys create": (True, [KEY], [])})
    args = (ARGS, args_digest(ARGS), "gw1", "llmfleet", "0.29.2", "100.64.0.2", "10m", 1, ["tag:gpu"], ["100.64.0.1"])
    assert join_mesh(State([control, node]), node, *args) is False
    assert any("100.64.0.1 did not join within 3 s" in line for line in node.logs), node.logs
    assert not any("preauthkeys" in c["command"] for c in control.calls), "no key is minted out of turn"


def test_mint_puts_the_node_tags_in_the_key_from_headscale_0_28() -> None:
    control, _ = make(control_answers={"preauthkeys create": (True, [KEY], [])})
    assert mint_preauth_key(State([control]), control, "llmfleet", "0.29.2", tags=["tag:gateway", "tag:headscale"]) == KEY
    assert control.calls[-1]["command"] == "headscale preauthkeys create --tags tag:gateway,tag:headscale --expiration 10m"
    assert not any("users list" in c["command"] for c in control.calls), "a tagged key needs no user"


def test_mint_refuses_output_that_is_not_a_key() -> None:
    control, _ = make(control_answers={"preauthkeys create": (True, ["some warning text"], [])})
    with pytest.raises(MeshError, match="did not print a pre-auth key"):
        mint_preauth_key(State([control]), control, "llmfleet", "0.23.0")


def test_join_command_quotes_arguments_and_carries_no_key() -> None:
    command = join_command(["--hostname=a b", "--reset"], "d" * 64, 30).get_raw_value()
    assert "'--hostname=a b'" in command
    assert "--timeout=30s" in command
    assert "tskey" not in command and "hskey" not in command


def test_sudo_is_passed_on_to_callback_commands() -> None:
    control, node = make()
    node.current_op_global_arguments = {"_sudo": True, "_stdin": None, "_timeout": None}
    assert run_join(control, node) is True
    assert node.calls[0]["_sudo"] is True


@pytest.mark.parametrize(
    ("version", "tail"),
    [
        ("0.23.0", ["--user", "llmfleet"]),
        ("0.25.1", ["--user", "llmfleet"]),
        ("0.26.1", ["--user", "3"]),
        ("0.27.1", ["--user", "3"]),
        ("0.28.0", ["--tags", "tag:gpu"]),
        ("0.29.2", ["--tags", "tag:gpu"]),
    ],
)
def test_the_pre_auth_key_command_per_headscale_version(version: str, tail: list[str]) -> None:
    argv = preauth_key_argv(version, "llmfleet", "10m", tags=["tag:gpu"], user_id="3")
    assert argv == ["headscale", "preauthkeys", "create", *tail, "--expiration", "10m"]


def test_a_user_id_version_without_the_id_is_an_error_not_a_name() -> None:
    with pytest.raises(MeshError, match="numeric ID"):
        preauth_key_argv("0.26.1", "llmfleet", "10m")
