"""The main job, end to end: boot the lab fleet, deploy it twice, verify the hosts, check the gateway.

``make demo`` runs ``python -m fleetlab.demo run``:

1. **boot** the lab fleet of ``inventories/lab.yml`` (real Debian bookworm hosts under systemd-nspawn,
   see :mod:`fleetlab.hosts`; the artifact mirror serves the real LiteLLM wheels, a real
   llama-server, the real Headscale, Tailscale and Ollama, and the named nvidia-smi stand-in);
2. **deploy** ``deploy/site.py`` with pyinfra, then **again**: the second run must change nothing;
3. **verify** the hosts with pytest-testinfra (``checks/testinfra``: files and modes, services,
   ports bound only where intended);
4. **check** the fleet through its gateway with ``llmfleet check`` (auth enforced, models listed,
   tool calling, warm latency) and ``llmfleet health``; reports go to ``--out`` as JSON, JUnit and
   Prometheus textfile; then ``llmfleet check`` again from a **mesh node** (inside the gateway host's
   network namespace, which has its ``tailscale0``): the backend checks reach the backends bound to
   mesh IPs over the real Tailscale data plane, and each must pass (``check-mesh.json``);
5. **tear down** the lab, unless it was already up (``make lab-up``) or ``--keep`` is given.

``python -m fleetlab.demo up`` boots and deploys and leaves the lab running (``make lab-up``);
``make lab-down`` tears it down. ``LLMFLEET_LAB_KEEP=1`` keeps a lab this run booted even when its
deploy fails (to look at the hosts; ``make lab-down`` afterwards).

The master key: the operator's value of the environment variable the inventory references, else
one generated per lab work directory and kept in ``<workdir>/secrets/master_key`` (mode 0600), so a
kept lab can be deployed and checked again with the same key. It is never printed.

Exit codes: 0 every step passed, 1 a step failed, 2 the demo could not run (no root, tools missing,
bad inventory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from fleetlab import hosts as labhosts
from fleetlab import seedlab
from fleetlab.deployrun import DeployRun, SecretLeaked, run_site
from llmfleet.checks.targets import gateway_url
from llmfleet.inventory import load_inventory
from llmfleet.inventory.model import Inventory
from llmfleet.inventory.problems import InventoryError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INVENTORY = REPO / "inventories" / "lab.yml"
DEFAULT_WORKDIR = REPO / ".lab"
DEFAULT_OUT = REPO / "out" / "lab-report"
BIN = Path(sys.executable).parent


class StepFailed(RuntimeError):
    """A demo step ran and its verdict is failure (exit 1)."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def _banner(step: str) -> None:
    _say(f"\n== {step} " + "=" * max(3, 72 - len(step)))


def master_key(inv: Inventory, workdir: Path) -> tuple[str, str]:
    """Return (environment variable name, value) of the gateway's master key for this lab.

    The operator's environment wins; else a key generated once per work directory (0600 file).
    """
    name = inv.gateway.master_key.env_name
    if os.environ.get(name):
        return name, os.environ[name]
    path = Path(workdir) / "secrets" / "master_key"
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"sk-lab-{secrets.token_hex(24)}\n")
    return name, path.read_text().strip()


def deploy_twice(fleet: labhosts.LabFleet, key: str, **run: Any) -> tuple[DeployRun, DeployRun]:
    """Converge the fleet, then re-run: raise :class:`StepFailed` unless the second run changes nothing.

    ``run``: more arguments of :func:`fleetlab.deployrun.run_site` (a seed's pyinfra inventory, secrets).
    """
    first = run_site(fleet, key, **run)
    if first.rc != 0 or first.errors():
        raise StepFailed(f"the deploy failed (exit {first.rc}): {first.errors()}\n{first.tail()}\nfull log: {first.log}")
    _say(f"converged in {first.seconds:.1f} s: {len(first.changed())} of {len(first.ops())} operations changed something")
    second = run_site(fleet, key, **run)
    if second.rc != 0 or second.errors():
        raise StepFailed(f"the second deploy failed (exit {second.rc}): {second.errors()}\n{second.tail()}\nfull log: {second.log}")
    if second.changed():
        raise StepFailed("the second deploy changed things (not idempotent):\n  " + "\n  ".join(second.changed()))
    _say(f"re-run in {second.seconds:.1f} s: {len(second.ops())} operations, none changed")
    return first, second


def run_testinfra(fleet: labhosts.LabFleet, inventory: Path, *, junit: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``checks/testinfra`` against every lab host (output streamed to this terminal, not captured)."""
    hosts = ",".join(fleet.testinfra_url(name) for name in fleet.hosts)
    argv = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", str(REPO / "checks" / "testinfra"), f"--hosts={hosts}"]
    if junit:
        argv.append(f"--junitxml={junit}")
    env = {**os.environ, "LLMFLEET_INVENTORY": str(inventory), "LLMFLEET_OVERLAY": str(fleet.overlay or "")}
    return subprocess.run(argv, cwd=REPO, env=env, text=True, timeout=600)


def run_llmfleet(command: str, fleet: labhosts.LabFleet, inventory: Path, key: tuple[str, str], *extra: str) -> int:
    """Run ``llmfleet check|health`` for the lab fleet with the master key in its environment."""
    argv = [str(BIN / "llmfleet"), command, str(inventory), *extra]
    if fleet.overlay:
        argv[3:3] = ["--overlay", str(fleet.overlay)]
    env = {**os.environ, key[0]: key[1]}
    return subprocess.run(argv, cwd=REPO, env=env, timeout=1200).returncode


class MeshCheck(NamedTuple):
    """The backend verdicts of ``llmfleet check`` run from a mesh node."""

    host: str
    rc: int
    backend: dict[str, dict[str, Any]]  # model name -> its backend result (status, message, facts)
    report: Path


def check_from_mesh(fleet: labhosts.LabFleet, inventory: Path, key: tuple[str, str], out: Path, inv: Inventory) -> MeshCheck:
    """``llmfleet check`` inside the gateway host's network namespace (a mesh node, as the gateway sees the backends).

    From this machine a backend bound to a mesh IP is unreachable (its check is a ``skip``); from the
    gateway host it answers over ``tailscale0`` through the real ACL. Raises :class:`StepFailed` unless
    every Ollama model's backend check passes there, every other local model's passes or warns (never a
    skip: from the mesh every backend must be reachable), and nothing else fails. Tool and latency probes
    are not repeated.
    """
    gateways = [h.name for h in inv.hosts_with("gateway") if h.name in fleet.hosts]
    if not gateways:
        raise StepFailed("no lab host has the gateway role: no mesh vantage point to check the backends from")
    host = gateways[0]
    report = out / "check-mesh.json"
    argv = [str(BIN / "llmfleet"), "check", str(inventory), "--no-tools", "--no-latency", "--json", str(report), "--quiet"]
    if fleet.overlay:
        argv[3:3] = ["--overlay", str(fleet.overlay)]
    done = fleet.run_from_host_net(host, argv, timeout=900, env={**os.environ, key[0]: key[1]})
    if not report.is_file():
        raise StepFailed(f"llmfleet check from {host}'s network namespace wrote no report (exit {done.returncode}): {done.stderr[-2000:]}")
    results = json.loads(report.read_text())["results"]
    backend = {r["subject"]: r for r in results if r["check"] == "backend"}
    kinds = {m.name: inv.backend_by_name[m.backend].kind for m in inv.models if m.backend in inv.backend_by_name}

    def judged(n: str) -> bool:  # an Ollama model must pass; another backend may warn (e.g. a template without tools)
        status = backend.get(n, {}).get("status")
        return status == "pass" or (status == "warn" and kinds[n] != "ollama")

    local = list(kinds)
    bad = {n: backend.get(n, {}).get("message", f"{n}: no backend result") for n in local if not judged(n)}
    if bad:
        raise StepFailed(f"backend checks from the mesh node {host} did not pass:\n  " + "\n  ".join(bad.values()))
    failed = [r["message"] for r in results if r["status"] == "fail"]
    if done.returncode != 0 or failed:
        raise StepFailed(f"llmfleet check from {host}: exit {done.returncode}: " + "; ".join(failed) + f" (report: {report})")
    for n in local:
        _say(f"  {backend[n]['status'].upper()} {backend[n]['message']}")
    return MeshCheck(host, done.returncode, backend, report)


def verify_and_check(
    fleet: labhosts.LabFleet, inventory: Path, key: tuple[str, str], out: Path, inv: Inventory | None = None, started: float | None = None
) -> None:
    """Steps 3 and 4: testinfra on the hosts, then ``llmfleet check`` and ``llmfleet health``.

    With ``inv`` (a seed fleet): first one chat request through the gateway (with ``started``, the
    ``time.monotonic()`` the demo began: the time to the first chat answer, printed and written to
    ``first_chat.json``), discovery (``/v1/models`` lists every model), and cloud models are not
    checked (the lab has no internet) but reported skipped with the reason, in ``skipped.json``,
    unless the lab's stand-in for the internet answers them (:mod:`fleetlab.cloudstandin`);
    ``check`` runs on the models the lab answers only, and ``health`` only when it answers every model.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "first_chat.json").unlink(missing_ok=True)  # an earlier run's time is not this run's
    skipped = seedlab.cloud_models(inv) if inv is not None else {}
    local = [m.name for m in inv.models if m.name not in skipped] if inv is not None else []
    with contextlib.ExitStack() as stack:
        via: list[str] = []
        if inv is not None:
            url = stack.enter_context(seedlab.gateway_url(fleet, inv))
            via = ["--gateway", url] if url else []
            _banner("first chat answer through the gateway")
            try:
                chat = seedlab.first_chat(url or gateway_url(inv), inv, key[1])
            except seedlab.DiscoveryFailed as exc:
                raise StepFailed(str(exc)) from None
            if chat is None:
                _say("  no local chat model: every chat model is a cloud model (skipped below)")
            else:
                if started is not None:
                    chat["seconds_since_start"] = round(time.monotonic() - started, 1)
                    _say(f"  first chat answer from {chat['model']} {chat['seconds_since_start']:.0f} s after the demo started")
                (out / "first_chat.json").write_text(json.dumps(chat, indent=2) + "\n")
        _banner("verify the hosts (pytest-testinfra)")
        if run_testinfra(fleet, inventory, junit=out / "testinfra.junit.xml").returncode != 0:
            raise StepFailed("testinfra found hosts that are not as the inventory says (above)")
        if inv is not None:
            _banner("discovery through the gateway (/v1/models)")
            try:
                found = seedlab.discovery(url or gateway_url(inv), inv, key[1])
            except seedlab.DiscoveryFailed as exc:
                raise StepFailed(str(exc)) from None
            (out / "discovery.json").write_text(json.dumps(found, indent=2) + "\n")
            if found["missing"]:
                raise StepFailed(f"/v1/models does not list {', '.join(found['missing'])}")
            _say(f"  /v1/models lists all {len(found['wanted'])} models: {', '.join(found['listed'])}")
            (out / "skipped.json").write_text(json.dumps(skipped, indent=2) + "\n")
            for name, reason in skipped.items():
                _say(f"  SKIP {name}: {reason}")
        if inv is None or local:
            _banner("check the fleet through its gateway (llmfleet check)")
            models = [a for name in local for a in ("--model", name)]
            if inv is not None and (concurrency := seedlab.check_concurrency(inv)):
                models += ["--concurrency", str(concurrency)]
            reports = ["--json", str(out / "check.json"), "--junit", str(out / "check.junit.xml"), "--prom", str(out / "llmfleet.prom")]
            rc = run_llmfleet("check", fleet, inventory, key, *via, *models, "--samples", "5", *reports)
            if rc != 0:
                raise StepFailed(f"llmfleet check: exit {rc} (report: {out / 'check.json'})")
        if inv is None:  # the lab fleet; a seed's overlay may place its gateway off the mesh
            _banner("check the backends from a mesh node (llmfleet check in the gateway host's network namespace)")
            check_from_mesh(fleet, inventory, key, out, load_inventory(inventory, fleet.overlay))
        if not skipped:
            _banner("on-call health (llmfleet health)")
            rc = run_llmfleet("health", fleet, inventory, key, *via, "--json", str(out / "health.json"))
            if rc != 0:
                raise StepFailed(f"llmfleet health: exit {rc} (report: {out / 'health.json'})")
    _say(f"\nreports: {', '.join(sorted(p.name for p in out.iterdir()))} in {out}")


def _running_lab(inventory: Path, workdir: Path) -> tuple[labhosts.LabFleet, Inventory] | None:
    """The lab already running in ``workdir`` and its inventory (with the lab's overlay), or None."""
    status = labhosts.lab_status(workdir)
    if not status.get("up"):
        return None
    inv = load_inventory(inventory, Path(status["overlay"]) if status.get("overlay") else None)
    return labhosts.lab_up(inv, workdir), inv


def boot_and_deploy(
    inventory: Path, workdir: Path, seed: str | None = None, *, extra_overlay: Path | None = None
) -> tuple[labhosts.LabFleet, tuple[str, str], bool, Inventory]:
    """Boot the lab (or reuse a running one) and deploy it twice; return (fleet, key, booted here, inventory).

    ``seed``: a seed fleet with its lab overlay (:mod:`fleetlab.seedlab`) instead of ``inventory``'s lab fleet;
    the lab infrastructure it needs (stand-in for the internet, external Redis) is provided before the deploy.
    ``extra_overlay``: merged over the seed's lab overlay (a test's own settings).
    """
    run: dict[str, Any] = {}
    if seed is not None:
        inventory, lab_overlay, run["pyinfra_inventory"] = seedlab.seed_files(seed)
        load_inventory(inventory, lab_overlay)
    else:
        load_inventory(inventory)  # bad input: every problem with file, line and field (InventoryError), before anything starts
    _banner("boot the lab fleet")
    running = _running_lab(inventory, workdir)
    if running is not None:
        (fleet, inv), booted = running, False
        _say(f"reusing the running lab in {workdir}")
    else:
        from fleetlab.mirror import prepare

        inv, overlay = seedlab.prepare_seed(seed, workdir, extra_overlay=extra_overlay) if seed else prepare(inventory, workdir)
        fleet = labhosts.lab_up(inv, workdir, overlay=overlay)
        booted = True
    key = master_key(inv, workdir)
    for name, h in fleet.hosts.items():
        _say(f"  {name:<10} {h.address:<12} mesh {h.mesh_ip}")
    try:
        if seed is not None:
            seedlab.lab_infrastructure(fleet, inv, workdir, log=_say)
        _banner("deploy with pyinfra (twice: the second run must change nothing)")
        if seed is not None:
            run["env"] = seedlab.lab_secrets(inv, workdir)
        t0 = time.monotonic()
        deploy_twice(fleet, key[1], **run)
        _say(f"deployed (twice) in {time.monotonic() - t0:.0f} s")
    except BaseException:
        if booted and not os.environ.get("LLMFLEET_LAB_KEEP"):
            labhosts.lab_down(workdir)
        raise
    return fleet, key, booted, inv


def _guarded(body: Callable[[], None]) -> int:
    try:
        body()
    except (StepFailed, SecretLeaked) as exc:
        _say(f"\nFAILED: {exc}")
        return 1
    except (labhosts.LabError, InventoryError) as exc:
        _say(f"\ncannot run the demo: {exc}")
        return 2
    except ValidationError as exc:
        _say(f"\ncannot run the demo: not a valid inventory (`llmfleet validate` names file, line and field):\n{exc}")
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The whole flow; tears the lab down at the end unless it was up before or --keep."""

    def body() -> None:
        t0 = time.monotonic()
        fleet, key, booted, inv = boot_and_deploy(args.inventory, args.workdir, args.fleet)
        inventory = seedlab.seed_files(args.fleet)[0] if args.fleet else args.inventory
        try:
            verify_and_check(fleet, inventory, key, args.out, inv if args.fleet else None, started=t0)
        finally:
            if booted and not args.keep:
                _banner("tear down the lab")
                labhosts.lab_down(args.workdir)
            else:
                _say(f"\nthe lab keeps running (make lab-down to stop it; ssh -F {fleet.ssh_config} gw1)")
        _say(f"\ndemo passed in {time.monotonic() - t0:.0f} s")
        if args.fleet:
            timing = {"fleet": args.fleet, "demo_seconds": round(time.monotonic() - t0, 1)}
            first = args.out / "first_chat.json"
            if first.is_file():
                timing["first_chat_seconds"] = json.loads(first.read_text()).get("seconds_since_start")
            (args.out / "timing.json").write_text(json.dumps(timing) + "\n")

    return _guarded(body)


def cmd_up(args: argparse.Namespace) -> int:
    """Boot and deploy; leave the lab running."""

    def body() -> None:
        fleet, _, _, _ = boot_and_deploy(args.inventory, args.workdir, args.fleet)
        _say(f"\nlab is up and deployed: ssh -F {fleet.ssh_config} gw1; make lab-down to stop it")

    return _guarded(body)


def cmd_check(args: argparse.Namespace) -> int:
    """Verify and check a running lab (after ``up``)."""

    def body() -> None:
        running = _running_lab(args.inventory, args.workdir)
        if running is None:
            raise labhosts.LabError(f"no lab is running in {args.workdir}: run `make lab-up` first")
        fleet, inv = running
        verify_and_check(fleet, args.inventory, master_key(inv, args.workdir), args.out)

    return _guarded(body)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m fleetlab.demo", description="Boot, deploy, verify and check the lab fleet.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, func, help_ in (
        ("run", cmd_run, "the whole flow, then tear down"),
        ("up", cmd_up, "boot and deploy; leave running"),
        ("check", cmd_check, "verify + check a running lab"),
    ):
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func)
        p.add_argument("--inventory", type=Path, default=DEFAULT_INVENTORY)
        p.add_argument("--fleet", choices=seedlab.SEEDS, help="a seed fleet with its lab overlay (inventories/<seed>.lab.yml)")
        p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
        p.add_argument("--out", type=Path, default=DEFAULT_OUT)
        if name == "run":
            p.add_argument("--keep", action="store_true", help="leave the lab running at the end")
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
