"""What a lab host needs so that a container engine (podman, from Debian) runs inside systemd-nspawn.

Measured here (podman 4.3.1, crun 1.8.1, systemd 252 under nspawn, cgroup v1 on the machine):

* the host's root is nspawn's RAM overlay, and podman's ``overlay`` storage driver cannot stack
  on overlayfs: each lab host gets a directory of its own on the machine's disk at
  ``/var/lib/containers`` (like a real server's disk; wiped at every boot);
* netavark writes ``/proc/sys/net`` (ip_forward for the bridge): nspawn mounts it writable with
  ``SYSTEMD_NSPAWN_API_VFS_WRITABLE=network`` (the host has its own network namespace anyway);
* nspawn mounts the cgroup v1 controllers read-only and its seccomp filter refuses keyrings:
  containers run without cgroups of their own (crun supports that, runc does not) and without a
  session keyring. That drop-in (``containers.conf.d/llmfleet-lab.conf``) is the lab's, bind-mounted
  read-only; a real server needs none of it.

Nothing here is part of a deploy: the deploy installs and runs podman exactly as on a real host.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["CONTAINERS_DROPIN", "NSPAWN_ENV", "nspawn_args", "prepare_engine_dirs"]

#: Environment for systemd-nspawn: /proc/sys/net writable inside the host.
NSPAWN_ENV = ("SYSTEMD_NSPAWN_API_VFS_WRITABLE=network",)
CONTAINERS_DROPIN = """# llmfleet LAB only (systemd-nspawn host): nspawn's cgroup v1 controllers are read-only and its
# seccomp filter refuses session keyrings. A real server needs none of this.
[engine]
runtime = "crun"
[containers]
cgroups = "disabled"
keyring = false
"""


def prepare_engine_dirs(workdir: Path, hosts: list[str]) -> dict[str, tuple[Path, Path]]:
    """Fresh ``<workdir>/containers/<host>`` storage directories and the drop-in; ``{host: (storage, dropin)}``."""
    root = workdir / "containers"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    dropin = workdir / "containers-llmfleet-lab.conf"
    dropin.write_text(CONTAINERS_DROPIN)
    out = {}
    for name in hosts:
        (root / name).mkdir(mode=0o700)
        out[name] = (root / name, dropin)
    return out


def nspawn_args(storage: Path, dropin: Path) -> list[str]:
    """The systemd-nspawn options that give one host its container storage and the lab drop-in."""
    return [f"--bind={storage}:/var/lib/containers", f"--bind-ro={dropin}:/etc/containers/containers.conf.d/llmfleet-lab.conf"]
