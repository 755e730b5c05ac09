"""The lab hosts' base image: a minimal Debian bookworm root file system built with mmdebstrap.

Built once into ``${LLMFLEET_CACHE:-~/.cache/llmfleet}/lab-base-bookworm/<key>/rootfs`` where
``<key>`` hashes the recipe (suite, variant, package list, customisations), so changing the
package list builds a new image beside the old one. Every lab host boots this one directory with
``systemd-nspawn --volatile=overlay``: writes go to a RAM overlay, the image itself never changes.

What is baked in (a freshly provisioned Debian server, nothing llmfleet-specific):
``systemd systemd-sysv dbus openssh-server iproute2 python3 sudo`` (minbase). Everything a deploy
installs (python3-venv, nftables, libgomp1, ...) is *not* in the image: the deploy installs it
from the lab's apt repository on the artifact mirror, as it would on a real host.

Customisations (documented in README-lab.md): no ``/etc/hostname`` (nspawn's machine name is the
host name), no SSH host keys (each lab host gets its own, bind-mounted read-only), an empty
``/etc/apt/sources.list`` (the lab bind-mounts a sources list naming the mirror's apt repository),
and the apt-daily timers masked (a background apt run would race the deploy's apt).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from fleetlab.programs import cache_dir

__all__ = ["BASE_PACKAGES", "SUITE", "ImageError", "base_image_dir", "debian_mirror", "ensure_base_image"]

SUITE = "bookworm"
VARIANT = "minbase"
#: Packages baked into the image (on top of minbase): what any Debian server has.
BASE_PACKAGES: tuple[str, ...] = ("systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "python3", "sudo")
#: Shell hooks run by mmdebstrap on the finished tree ("$1" is its root). Part of the cache key.
CUSTOMIZE_HOOKS: tuple[str, ...] = (
    'rm -f "$1/etc/hostname" "$1"/etc/ssh/ssh_host_*',
    ': > "$1/etc/apt/sources.list"',
    'rm -f "$1"/etc/apt/sources.list.d/*',
    'for t in apt-daily.timer apt-daily-upgrade.timer; do ln -sf /dev/null "$1/etc/systemd/system/$t"; done',
    # Lab hosts have no console login; a getty on nspawn's console only adds boot time.
    'ln -sf /dev/null "$1/etc/systemd/system/console-getty.service"',
    # A RAM overlay is volatile anyway: keep the journal in /run, so flushing it to disk at boot
    # (systemd-journal-flush) has nothing to wait for on a loaded machine.
    'mkdir -p "$1/etc/systemd/journald.conf.d" && printf "[Journal]\\nStorage=volatile\\n" > "$1/etc/systemd/journald.conf.d/lab.conf"',
    # What debootstrap and cloud images write; minbase leaves /etc/hosts without localhost.
    'printf "127.0.0.1 localhost\\n::1 localhost ip6-localhost ip6-loopback\\n" > "$1/etc/hosts"',
)
#: Bumped when the recipe changes in a way the key would not see.
RECIPE_VERSION = 1
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


class ImageError(RuntimeError):
    """The base image could not be built; the message says why."""


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (the only one reachable here)."""
    try:
        for line in DEBIAN_SOURCES.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split(":", 1)[1].split()[0]
    except OSError:
        pass
    for line in Path("/etc/apt/sources.list").read_text(errors="replace").splitlines() if Path("/etc/apt/sources.list").exists() else []:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb":
            return next(p for p in parts[1:] if "://" in p)
    return "http://deb.debian.org/debian"


def _key(packages: Sequence[str]) -> str:
    recipe = {"suite": SUITE, "variant": VARIANT, "packages": sorted(packages), "hooks": CUSTOMIZE_HOOKS, "v": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def base_image_dir(packages: Sequence[str] = BASE_PACKAGES, cache: Path | None = None) -> Path:
    """Where the image of ``packages`` lives (``.../lab-base-bookworm/<key>``; it may not exist yet)."""
    return (cache or cache_dir()) / f"lab-base-{SUITE}" / _key(packages)


def ensure_base_image(packages: Sequence[str] = BASE_PACKAGES, cache: Path | None = None, *, log=print) -> Path:
    """Return the root file system of the base image, building it first if needed (~20 s).

    Concurrent callers are serialised by a lock file; a half-built tree is never used (it is
    built in a temporary directory and renamed into place).

    Raises:
        ImageError: mmdebstrap is missing or failed.
    """
    home = base_image_dir(packages, cache)
    rootfs = home / "rootfs"
    stamp = home / "image.json"
    if stamp.is_file() and (rootfs / "usr/lib/systemd/systemd").exists():
        return rootfs
    if shutil.which("mmdebstrap") is None:
        raise ImageError("mmdebstrap is not installed: run `sudo bash tools/install-lab-tools.sh`")
    home.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and (rootfs / "usr/lib/systemd/systemd").exists():
            return rootfs
        tmp = home / "rootfs.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        mirror = debian_mirror()
        argv = [
            "mmdebstrap",
            "--quiet",
            f"--variant={VARIANT}",
            f"--include={','.join(packages)}",
            *(f"--customize-hook={hook}" for hook in CUSTOMIZE_HOOKS),
            SUITE,
            str(tmp),
            mirror,
        ]
        log(f"[lab] building the base image ({SUITE}, {len(packages)} packages) into {home} ...")
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ImageError(f"mmdebstrap failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(rootfs)
        tmp.rename(rootfs)
        info = {"suite": SUITE, "variant": VARIANT, "packages": sorted(packages), "mirror": mirror, "hooks": list(CUSTOMIZE_HOOKS)}
        info["build_seconds"] = round(time.monotonic() - started, 1)
        stamp.write_text(json.dumps(info, indent=2) + "\n")
        log(f"[lab] base image built in {info['build_seconds']} s")
    return rootfs
