"""Benchmark: first converge vs idempotent re-run of ``deploy/site.py`` on 1, 2 and 4 booted lab hosts.

Each size is a lab fleet derived from ``inventories/lab.yml`` (same versions, mirror and tuning):

* 1 host:  ``gw1`` is gateway, Headscale and GPU host at once (llama.cpp + Ollama on it);
* 2 hosts: ``inventories/lab.yml`` itself (``gw1`` + ``gpu1``);
* 4 hosts: ``gw1`` + ``gpu1``…``gpu3``, a llama.cpp backend and model on each GPU host.

For each: boot the hosts (systemd-nspawn, :mod:`fleetlab.hosts`), run pyinfra twice through
:func:`fleetlab.deployrun.run_site`, tear down. The second run must change nothing. Results go
to ``benchmarks/RESULTS-deploy.md``. Needs root, ``make lab-tools`` and ``make programs``.

Targets (issue 4): the re-run takes well under the first run; 4 hosts do not take 4x one host.
"""

from __future__ import annotations

import copy
import os
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fleetlab import hosts as labhosts
from fleetlab.deployrun import run_site

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "inventories" / "lab.yml"
RESULTS = Path(__file__).with_name("RESULTS-deploy.md")
SIZES = (1, 2, 4)


def fleet_of(size: int) -> dict:
    """The lab inventory, reshaped to ``size`` hosts (see the module doc)."""
    base = yaml.safe_load(LAB.read_text())
    if size == 2:
        return base
    doc = copy.deepcopy(base)
    doc["fleet"] = f"bench{size}"
    gw = next(h for h in doc["hosts"] if h["name"] == "gw1")
    llama = next(b for b in doc["backends"] if b["kind"] == "llamacpp")
    ollama = next(b for b in doc["backends"] if b["kind"] == "ollama")
    chat = next(m for m in doc["models"] if m["backend"] == llama["name"])
    if size == 1:
        gw["roles"] = ["gateway", "headscale", "gpu"]
        doc["hosts"] = [gw]
        for b in (llama, ollama):
            b["host"] = "gw1"
        llama["port"] = 8090  # Headscale's own port on gw1 is 8080
        return doc
    gpus = [
        {"name": f"gpu{i}", "address": f"10.231.{i + 1}.2", "roles": ["gpu"], "mesh": {"ip": f"100.64.0.{i + 1}"}} for i in range(1, size)
    ]
    doc["hosts"] = [gw, *gpus]
    doc["backends"], doc["models"] = [ollama], [m for m in doc["models"] if m["backend"] == ollama["name"]]
    for i in range(1, size):
        doc["backends"].append({**copy.deepcopy(llama), "name": f"llama-gpu{i}", "host": f"gpu{i}"})
        doc["models"].append({**copy.deepcopy(chat), "name": f"tiny-chat-{i}", "backend": f"llama-gpu{i}"})
    return doc


def write_fleet(size: int, directory: Path) -> tuple[Path, Path]:
    """Write the size's inventory YAML and its pyinfra inventory module; return both paths."""
    name = f"bench{size}"
    yml = directory / f"{name}.yml"
    yml.write_text(yaml.safe_dump(fleet_of(size), sort_keys=False))
    py = directory / f"{name}.py"
    py.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\n"
        "from llmfleet.deploy.inventory import fleet_groups\n"
        f"all, gateway, gpu, headscale = fleet_groups({name!r}, inventory_dir=Path(__file__).parent)\n"
    )
    return yml, py


def measure(size: int, directory: Path) -> dict[str, float | int]:
    """Boot ``size`` hosts, converge, re-run, tear down; return the timings."""
    yml, py = write_fleet(size, directory)
    key = f"sk-bench-{secrets.token_hex(24)}"
    with labhosts.prepared_lab(yml, directory / f"lab{size}") as fleet:
        first = run_site(fleet, key, pyinfra_inventory=py)
        assert first.rc == 0 and not first.errors(), first.tail()
        second = run_site(fleet, key, pyinfra_inventory=py)
        assert second.rc == 0 and not second.errors(), second.tail()
        assert second.changed() == [], f"re-run changed: {second.changed()}"
        return {
            "hosts": size,
            "boot_s": fleet.timings.get("up_total", 0.0),
            "converge_s": first.seconds,
            "changed": len(first.changed()),
            "ops": len(first.ops()),
            "rerun_s": second.seconds,
        }


def report(rows: list[dict[str, float | int]]) -> str:
    """The RESULTS-deploy.md text."""
    one = next(r for r in rows if r["hosts"] == 1)
    lines = [
        "# Deploy benchmark: first converge vs idempotent re-run",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `make bench` (`benchmarks/bench_deploy.py`) on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; booted Debian "
        "bookworm lab hosts (systemd-nspawn) served by the lab's artifact mirror. One run per size "
        "(a converge installs packages, wheels and binaries: minutes, not milliseconds).",
        "",
        "| hosts | boot s | first converge s | operations changed / total | re-run s (no changes) | re-run / converge | converge / 1-host converge |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['hosts']} | {r['boot_s']:.1f} | {r['converge_s']:.1f} | {r['changed']} / {r['ops']} | {r['rerun_s']:.1f} | "
            f"{r['rerun_s'] / r['converge_s']:.2f} | {r['converge_s'] / one['converge_s']:.2f} |"
        )
    four = next(r for r in rows if r["hosts"] == 4)
    lines += [
        "",
        f"Targets: re-run well under converge (worst ratio {max(r['rerun_s'] / r['converge_s'] for r in rows):.2f}); "
        f"4 hosts under 4x one host ({four['converge_s'] / one['converge_s']:.2f}x). pyinfra runs each operation on "
        "all hosts in parallel; on this 2-core machine the hosts' package installs compete for the same two cores.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Run every size and write the results."""
    if reason := labhosts.lab_unavailable_reason():
        print(f"bench_deploy: cannot boot the lab: {reason}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="llmfleet-bench-deploy-") as tmp:
        for size in SIZES:
            row = measure(size, Path(tmp))
            print(f"{size} host(s): converge {row['converge_s']:.1f} s, re-run {row['rerun_s']:.1f} s", flush=True)
            rows.append(row)
    RESULTS.write_text(report(rows))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
