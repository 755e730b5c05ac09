"""SSH access to lab hosts: keys, ``known_hosts``, an ``ssh_config``, readiness waits.

Per lab (in ``<workdir>/ssh/``): one client key pair (``id_ed25519``, its public half is
bind-mounted as every host's ``/root/.ssh/authorized_keys``), one host key pair per host
(bind-mounted as the host's ``/etc/ssh/ssh_host_ed25519_key``), a ``known_hosts`` naming each
host's key by name and address, and an ``ssh_config`` with strict host key checking, usable by
OpenSSH (``ssh -F``), pyinfra (``--data ssh_config_file=...``/``ssh_known_hosts_file``) and
testinfra (``ssh://root@ADDRESS?ssh_config=...``, OpenSSH: host keys checked).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["SshFiles", "ssh_run", "wait_for_banner", "write_ssh_files"]


class SshFiles:
    """Paths of the lab's SSH material under ``<workdir>/ssh``."""

    def __init__(self, workdir: Path) -> None:
        self.dir = Path(workdir).resolve() / "ssh"
        self.key = self.dir / "id_ed25519"
        self.pub = self.dir / "id_ed25519.pub"
        self.known_hosts = self.dir / "known_hosts"
        self.config = self.dir / "ssh_config"

    def host_key(self, name: str) -> Path:
        """Private host key of lab host ``name``."""
        return self.dir / "hostkeys" / name / "ssh_host_ed25519_key"


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    path.chmod(0o600)


def write_ssh_files(workdir: Path, hosts: Iterable[tuple[str, str]], user: str = "root") -> SshFiles:
    """Create keys (kept if present), ``known_hosts`` and ``ssh_config`` for ``(name, address)`` pairs."""
    files = SshFiles(workdir)
    files.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _keygen(files.key, "llmfleet-lab")
    known, config = [], ["# llmfleet lab hosts (generated; removed with the lab)"]
    for name, address in hosts:
        _keygen(files.host_key(name), f"root@{name}")
        pub = files.host_key(name).with_suffix(".pub").read_text().split()
        known.append(f"{name},{address} {pub[0]} {pub[1]}")
        config += [
            f"Host {name} {address}",
            f"    HostName {address}",
            f"    User {user}",
            f"    IdentityFile {files.key}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {files.known_hosts}",
            "    StrictHostKeyChecking yes",
            "    BatchMode yes",
            "    ConnectTimeout 5",
            "    LogLevel ERROR",
            "",
        ]
    files.known_hosts.write_text("\n".join(known) + "\n")
    files.config.write_text("\n".join(config))
    return files


def wait_for_banner(address: str, deadline: float, port: int = 22) -> bool:
    """Poll until an SSH server at ``address`` sends its banner, or ``deadline`` (monotonic) passes."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1.0) as sock:
                sock.settimeout(2.0)
                if sock.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def ssh_run(files: SshFiles, host: str, command: str | Sequence[str], *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on lab host ``host`` with OpenSSH; returns the completed process (not checked)."""
    remote = command if isinstance(command, str) else " ".join(command)
    return subprocess.run(
        ["ssh", "-F", str(files.config), host, remote], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
