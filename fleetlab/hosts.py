"""Real booted Debian lab hosts: one systemd-nspawn container per inventory host.

``boot_lab(inv, workdir)`` brings up the lab fleet of an inventory and tears it down on exit:

1. the base image (:mod:`fleetlab.image`, cached, ~20 s the first time);
2. SSH material (:mod:`fleetlab.sshaccess`);
3. the network (:mod:`fleetlab.netns`): a namespace, veth pair and address per host, the mirror
   address on the machine, ip_forward, a confining nftables table (the mesh itself is the real
   Tailscale the deploy installs);
4. the artifact mirror (:mod:`fleetlab.mirror`, served from ``<workdir>/mirror``);
5. every host booted with ``systemd-nspawn --volatile=overlay`` (writes stay in RAM), then waited
   for (bounded) until sshd answers and systemd has finished booting;
6. when the fleet has a mesh, the lab CA installed on every host and Headscale's TLS certificate on
   its host (:mod:`fleetlab.labtls`), as an operator with a private CA would;
7. yields a :class:`LabFleet`.

Every resource is recorded in ``<workdir>/lab-state.json`` as it is created, so ``down`` works from
another process and removes exactly what ``up`` made (and nothing else).

CLI::

    python -m fleetlab.hosts up INVENTORY [--workdir .lab]   # build mirror + overlay, boot, keep running
    python -m fleetlab.hosts status [--workdir .lab]
    python -m fleetlab.hosts down [--workdir .lab]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from fleetlab import cloudstandin, daemons, labengine, labtls, netns
from fleetlab.image import ImageError, ensure_base_image
from fleetlab.ledger import Ledger
from fleetlab.sshaccess import SshFiles, ssh_run, wait_for_banner, write_ssh_files
from llmfleet.inventory.model import Inventory
from llmfleet.inventory.problems import InventoryError

__all__ = ["LabError", "LabFleet", "LabHost", "boot_lab", "lab_down", "lab_status", "lab_up"]

DEFAULT_WORKDIR = Path(".lab")
#: Where lab facts are bind-mounted (read-only) inside every host.
LAB_FACTS_DIR = "/etc/llmfleet-lab"
BOOT_TIMEOUT = 60.0
REQUIRED_TOOLS = ("systemd-nspawn", "ip", "nft", "ssh", "ssh-keygen")


class LabError(RuntimeError):
    """The lab cannot start or stop; the message says why and what to do."""


@dataclass(frozen=True)
class LabHost:
    """A booted lab host."""

    name: str
    address: str
    mesh_ip: str | None


@dataclass
class LabFleet:
    """A running lab fleet: hosts, how to reach them, the mirror."""

    hosts: dict[str, LabHost]
    ssh_key: Path
    ssh_config: Path
    known_hosts: Path
    mirror_url: str
    workdir: Path
    overlay: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def ssh(self, host: str, command: str, *, timeout: float = 30.0):  # -> subprocess.CompletedProcess[str]
        """Run a shell command on ``host`` as root (OpenSSH with the lab's ssh_config); not checked."""
        return ssh_run(SshFiles(self.workdir), host, command, timeout=timeout)

    def run_from_host_net(
        self, host: str, argv: list[str], *, timeout: float = 120.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a program of *this machine* inside ``host``'s network namespace; not checked.

        The vantage point of a process on that host (its lab address, loopback and, once joined, its
        tailscale0 mesh interface) with this machine's files and venv: how the lab runs
        ``llmfleet check`` from a mesh node or from the gateway host itself.
        """
        if host not in self.hosts:
            raise KeyError(f"no lab host {host!r} (hosts: {', '.join(self.hosts)})")
        return subprocess.run(
            ["ip", "netns", "exec", f"{netns.NETNS_PREFIX}{host}", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    def testinfra_url(self, host: str) -> str:
        """The testinfra host URL of ``host``: OpenSSH with the lab's ssh_config (strict host key checking)."""
        return f"ssh://root@{self.hosts[host].address}?ssh_config={self.ssh_config}"

    def to_json(self) -> dict:
        """A JSON-able summary (what ``status`` prints)."""
        return {
            "hosts": {n: {"address": h.address, "mesh_ip": h.mesh_ip} for n, h in self.hosts.items()},
            "ssh_key": str(self.ssh_key),
            "ssh_config": str(self.ssh_config),
            "known_hosts": str(self.known_hosts),
            "mirror_url": self.mirror_url,
            "overlay": str(self.overlay) if self.overlay else None,
            "workdir": str(self.workdir),
        }


def _fleet_from_info(workdir: Path, info: dict) -> LabFleet:
    files = SshFiles(workdir)
    hosts = {n: LabHost(n, h["address"], h["mesh_ip"]) for n, h in info["hosts"].items()}
    overlay = Path(info["overlay"]) if info.get("overlay") else None
    return LabFleet(
        hosts, files.key, files.config, files.known_hosts, info["mirror_url"], files.dir.parent, overlay, info.get("timings", {})
    )


def check_prerequisites() -> None:
    """Raise :class:`LabError` unless we are root and the tools are installed."""
    if os.geteuid() != 0:
        raise LabError("the lab must run as root (network namespaces, systemd-nspawn): run it with sudo")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)}: run `sudo bash tools/install-lab-tools.sh`")


def _mirror_endpoint(inv: Inventory) -> tuple[str, int, str]:
    url = inv.artifacts.mirror
    if not url:
        raise LabError("the lab inventory needs `artifacts.mirror` (e.g. http://10.231.0.1:8099/): the lab serves every artifact from it")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise LabError(f"artifacts.mirror {url!r}: the lab serves plain http on an address of its own (http://10.231.0.1:PORT/)")
    return parts.hostname, parts.port or 80, url if url.endswith("/") else url + "/"


def check_lab_inventory(inv: Inventory) -> None:
    """Raise :class:`LabError` (or LabNetError) unless ``inv`` can be a lab fleet: a plain-http
    ``artifacts.mirror`` on an IP and host addresses ``10.231.N.2``."""
    host, _, _ = _mirror_endpoint(inv)
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise LabError(f"artifacts.mirror must name an IPv4 address the lab can hold (e.g. 10.231.0.1), not {host!r}") from None
    netns.plan_network(inv)


def _alive_processes(ledger: Ledger) -> dict[str, bool]:
    return {e.data["name"]: daemons.is_running(e.data["pid"], e.data["start"]) for e in ledger.of_kind("process")}


def _spawn(ledger: Ledger, name: str, argv: list[str], log: Path) -> None:
    pid, start = daemons.spawn_detached(argv, log)
    ledger.add("process", name=name, pid=pid, start=start, log=str(log))


def _nspawn_argv(
    rootfs: Path, h: netns.HostNet, files: SshFiles, facts: Path, apt_sources: Path, engine: tuple[Path, Path] | None = None
) -> list[str]:
    key = files.host_key(h.name)
    return [
        "env",
        *labengine.NSPAWN_ENV,
        "systemd-nspawn",
        "--quiet",
        f"--directory={rootfs}",
        "--volatile=overlay",
        f"--machine={h.name}",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path={h.netns_path}",
        f"--bind-ro={files.pub}:/root/.ssh/authorized_keys",
        f"--bind-ro={key}:/etc/ssh/ssh_host_ed25519_key",
        f"--bind-ro={key}.pub:/etc/ssh/ssh_host_ed25519_key.pub",
        f"--bind-ro={apt_sources}:/etc/apt/sources.list",
        f"--bind-ro={facts}:{LAB_FACTS_DIR}",
        # A real server's root may load nftables rules (the deploy's backend firewall does).
        "--capability=CAP_NET_ADMIN",
        # Container storage on disk and the lab's podman drop-in (fleetlab.labengine).
        *(labengine.nspawn_args(*engine) if engine else ()),
        "--console=passive",
        "--boot",
    ]


def _write_lab_facts(workdir: Path, inv: Inventory, mirror_url: str) -> tuple[Path, Path]:
    facts = workdir / "facts"
    facts.mkdir(parents=True, exist_ok=True)
    (facts / "README").write_text("This is an llmfleet LAB host (systemd-nspawn container), not a real server.\n")
    (facts / "mirror-url").write_text(mirror_url + "\n")
    apt = workdir / "apt-sources.list"
    apt.write_text(
        "# llmfleet lab: the artifact mirror's apt repository (exact Debian .debs, listed with their SHA-256).\n"
        f"deb [trusted=yes] {mirror_url}debian ./\n"
    )
    return facts, apt


def _wait_booted(files: SshFiles, plans: list[netns.HostNet], deadline: float, ledger: Ledger) -> None:
    for h in plans:
        if not wait_for_banner(h.address, deadline):
            alive = _alive_processes(ledger)
            log = next((e.data["log"] for e in ledger.of_kind("process") if e.data["name"] == f"host:{h.name}"), "?")
            state = "running" if alive.get(f"host:{h.name}") else "exited"
            raise LabError(f"lab host {h.name} ({h.address}): no sshd after {BOOT_TIMEOUT:.0f} s (nspawn {state}); see {log}")
    for h in plans:
        remaining = max(5.0, deadline - time.monotonic())
        # Like cloud-init: the host knows its own name. Then wait for systemd to finish booting.
        cmd = (
            f"grep -q ' {h.name}$' /etc/hosts || echo '127.0.1.1 {h.name}' >> /etc/hosts; "
            f"timeout {int(remaining)} systemctl is-system-running --wait >/dev/null; "
            "systemctl --failed --no-legend --plain | awk '{print $1}'"
        )
        proc = ssh_run(files, h.name, cmd, timeout=remaining + 5)
        if proc.returncode not in (0, 1):
            raise LabError(f"lab host {h.name}: ssh failed (exit {proc.returncode}): {proc.stderr.strip()}")
        if proc.stdout.strip():
            _retry_failed_units(files, h.name, proc.stdout.split(), ledger.path.parent / "logs")


def _retry_failed_units(files: SshFiles, name: str, units: list[str], logs: Path) -> None:
    """Keep the journal of boot units that failed, and start them once more.

    Seen here, rarely, while other tests loaded the machine: an early-boot unit of the container
    (systemd-remount-fs, systemd-user-sessions, systemd-journal-flush) fails. Whatever is left failed
    after one more start is reported; the host then says ``degraded`` and the lab tests fail on it.
    """
    listed = " ".join(units)
    journal = ssh_run(files, name, f"journalctl -b --no-pager -n 200 -u {' -u '.join(units)}", timeout=30)
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{name}.failed-units.log").write_text(journal.stdout + journal.stderr)
    again = ssh_run(
        files,
        name,
        f"systemctl reset-failed {listed}; systemctl restart {listed}; systemctl --failed --no-legend --plain | awk '{{print $1}}'",
        timeout=60,
    )
    left = again.stdout.split()
    print(
        f"[lab] {name}: units failed at boot: {listed} (journal in {logs / f'{name}.failed-units.log'}); "
        + (f"still failed after a restart: {' '.join(left)}" if left else "started fine on a second try"),
        file=sys.stderr,
    )


def lab_up(inv: Inventory, workdir: Path, *, overlay: Path | None = None, log=print) -> LabFleet:
    """Boot the lab fleet of ``inv`` and leave it running; return it. Already up: return it as is.

    The mirror directory ``<workdir>/mirror`` must exist (:func:`fleetlab.mirror.build_mirror`);
    ``overlay`` is only recorded (for ``status`` and the deploy).

    Raises:
        LabError: not root, tools missing, a name clash with another lab, or a host did not boot
            (everything created so far is torn down again before the error propagates).
    """
    check_prerequisites()
    check_lab_inventory(inv)
    workdir = Path(workdir).resolve()
    ledger = Ledger.open(workdir)
    if ledger.exists() and ledger.entries:
        alive = _alive_processes(ledger)
        if alive and all(alive.values()) and "hosts" in ledger.info:
            log(f"[lab] already up ({', '.join(ledger.info['hosts'])}); `down --workdir {workdir}` to stop it")
            return _fleet_from_info(workdir, ledger.info)
        raise LabError(f"a lab in {workdir} is half up ({alive}): run `python -m fleetlab.hosts down --workdir {workdir}` first")
    mirror_dir = workdir / "mirror"
    if not (mirror_dir / "SHA256SUMS").is_file():
        raise LabError(f"no mirror in {mirror_dir}: build it first (fleetlab.mirror.build_mirror)")
    mirror_ip, mirror_port, mirror_url = _mirror_endpoint(inv)
    plans = netns.plan_network(inv)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    try:
        rootfs = ensure_base_image(log=log)
    except ImageError as exc:
        raise LabError(str(exc)) from None
    timings["image"] = time.monotonic() - t0
    files = write_ssh_files(workdir, [(h.name, h.address) for h in plans])
    tls = labtls.make_lab_tls(workdir, inv)
    facts, apt_sources = _write_lab_facts(workdir, inv, mirror_url)
    ledger.info = {"fleet": inv.fleet, "workdir": str(workdir)}
    ledger.save()
    try:
        t1 = time.monotonic()
        netns.setup_machine_net(ledger, mirror_ip, [mirror_port, *cloudstandin.service_ports(inv)])
        for h in plans:
            netns.setup_host_net(ledger, h)
        timings["network"] = time.monotonic() - t1
        logs = workdir / "logs"
        py = sys.executable
        _spawn(
            ledger,
            "mirror",
            [py, "-m", "fleetlab.mirror", "serve", str(mirror_dir), "--bind", mirror_ip, "--port", str(mirror_port)],
            logs / "mirror.log",
        )
        t2 = time.monotonic()
        engines = labengine.prepare_engine_dirs(workdir, [h.name for h in plans])
        for h in plans:
            argv = _nspawn_argv(rootfs, h, files, facts, apt_sources, engines[h.name])
            _spawn(ledger, f"host:{h.name}", argv, logs / f"{h.name}.console.log")
        _wait_mirror(mirror_ip, mirror_port, ledger)
        _wait_booted(files, plans, t2 + BOOT_TIMEOUT, ledger)
        timings["boot"] = time.monotonic() - t2
        if tls is not None:
            _install_lab_tls(files, inv, tls, plans)
    except BaseException:
        lab_down(workdir, log=log)
        raise
    ledger.info.update(
        hosts={h.name: {"address": h.address, "mesh_ip": h.mesh_ip} for h in plans},
        mirror_url=mirror_url,
        overlay=str(overlay) if overlay else None,
        timings={k: round(v, 2) for k, v in timings.items()},
    )
    ledger.save()
    log(f"[lab] up: {', '.join(f'{h.name} {h.address}' for h in plans)} (boot {timings['boot']:.1f} s); mirror {mirror_url}")
    return _fleet_from_info(workdir, ledger.info)


def _install_lab_tls(files: SshFiles, inv: Inventory, tls: labtls.LabTls, plans: list[netns.HostNet]) -> None:
    """The lab CA on every host, Headscale's certificate on its host (:mod:`fleetlab.labtls`)."""
    assert inv.mesh is not None
    address = next(h.address for h in plans if h.name == inv.mesh.headscale_host)
    for h in plans:
        proc = ssh_run(files, h.name, labtls.install_commands(tls, inv, h.name, address), timeout=60)
        if proc.returncode != 0:
            raise LabError(f"lab host {h.name}: installing the lab CA failed: {proc.stderr.strip()[-400:]}")


def _wait_mirror(ip: str, port: int, ledger: Ledger, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=0.5):
            return
        if not _alive_processes(ledger).get("mirror", True):
            break
        time.sleep(0.05)
    log = next(e.data["log"] for e in ledger.of_kind("process") if e.data["name"] == "mirror")
    raise LabError(f"the mirror did not start on {ip}:{port}; see {log}")


def lab_down(workdir: Path, *, log=print) -> bool:
    """Tear down the lab recorded in ``<workdir>/lab-state.json``; True when nothing is left.

    Processes first (hosts halt in ~3 s on SIGTERM), then any stray process still inside a lab
    namespace, then routes, links, namespaces, the nftables table and ip_forward, in reverse
    order of creation. Only what the state file lists is touched.
    """
    workdir = Path(workdir).resolve()
    ledger = Ledger.open(workdir)
    if not ledger.exists():
        log(f"[lab] nothing to tear down in {workdir}")
        return True
    t0 = time.monotonic()
    procs = ledger.of_kind("process")
    for e in procs:  # SIGTERM all hosts at once, so they halt in parallel
        if daemons.is_running(e.data["pid"], e.data["start"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(e.data["pid"], 15)
    for e in reversed(procs):
        if daemons.stop_process(e.data["pid"], e.data["start"], grace=10.0):
            ledger.remove(e)
    for e in reversed(ledger.of_kind("netns")):
        for pid in netns.netns_pids(e.data["name"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
    for e in reversed([e for e in ledger.entries if e.kind != "process"]):
        try:
            netns.undo(e)
        except Exception as exc:
            log(f"[lab] could not remove {e.kind} {e.data}: {exc}")
            continue
        ledger.remove(e)
    if ledger.entries:
        log(f"[lab] left behind (see {ledger.path}): {[(e.kind, e.data) for e in ledger.entries]}")
        return False
    ledger.delete()
    log(f"[lab] down in {time.monotonic() - t0:.1f} s")
    return True


def lab_status(workdir: Path) -> dict:
    """What the state file says, and which recorded processes run."""
    ledger = Ledger.open(Path(workdir).resolve())
    if not ledger.exists():
        return {"up": False}
    alive = _alive_processes(ledger)
    return {"up": bool(alive) and all(alive.values()), "processes": alive, **ledger.info}


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot boot on this machine (not root, a tool or llama-server missing), or None."""
    from fleetlab.programs import ProgramMissing, llama_server_bin

    try:
        check_prerequisites()
    except LabError as exc:
        return str(exc)
    missing = [t for t in ("mmdebstrap", "dpkg-scanpackages") if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)}: run `sudo bash tools/install-lab-tools.sh`"
    try:
        llama_server_bin()
    except ProgramMissing as exc:
        return str(exc)
    return None


@contextlib.contextmanager
def prepared_lab(inventory: Path, workdir: Path) -> Iterator[LabFleet]:
    """Build the mirror and overlay for the inventory file ``inventory``, boot it, yield it, tear it down."""
    from fleetlab.mirror import prepare

    inv, overlay = prepare(inventory, workdir)
    t0 = time.monotonic()
    with boot_lab(inv, workdir, overlay=overlay) as fleet:
        fleet.timings["up_total"] = time.monotonic() - t0
        yield fleet


@contextlib.contextmanager
def boot_lab(inv: Inventory, workdir: Path, *, overlay: Path | None = None) -> Iterator[LabFleet]:
    """Boot the lab fleet of ``inv`` (see the module doc), yield it, and tear it down on exit.

    If ``<workdir>/mirror`` does not exist yet it is built from ``inv`` first.
    """
    from fleetlab.mirror import build_mirror, write_overlay

    workdir = Path(workdir).resolve()
    check_prerequisites()
    check_lab_inventory(inv)
    if not (workdir / "mirror" / "SHA256SUMS").is_file():
        manifest = build_mirror(workdir / "mirror", inv)
        overlay = overlay or write_overlay(workdir / "lab.artifacts.yml", inv, manifest)
    fleet = lab_up(inv, workdir, overlay=overlay)
    try:
        yield fleet
    finally:
        lab_down(workdir)


def _cmd_up(args: argparse.Namespace) -> int:
    import yaml

    from fleetlab.mirror import prepare

    check_prerequisites()
    check_lab_inventory(Inventory.model_validate(yaml.safe_load(Path(args.inventory).read_text())))
    inv, overlay = prepare(args.inventory, args.workdir)
    fleet = lab_up(inv, args.workdir, overlay=overlay)
    print(json.dumps(fleet.to_json(), indent=2))
    print(f"\nssh:      ssh -F {fleet.ssh_config} {next(iter(fleet.hosts))}")
    print(f"overlay:  {overlay}")
    print(f"down:     python -m fleetlab.hosts down --workdir {args.workdir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m fleetlab.hosts", description="Boot or tear down the lab fleet.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build the mirror and the overlay, boot every host, leave them running")
    up.add_argument("inventory", type=Path)
    up.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    for name in ("down", "status"):
        p = sub.add_parser(name)
        p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "up":
            return _cmd_up(args)
        if args.cmd == "down":
            check_prerequisites()
            return 0 if lab_down(args.workdir) else 1
        print(json.dumps(lab_status(args.workdir), indent=2))
        return 0
    except (LabError, netns.LabNetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InventoryError as exc:
        print(f"error: {args.inventory}: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: {args.inventory} is not a valid inventory (run `llmfleet validate`):\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
