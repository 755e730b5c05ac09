"""``tools/gpu-check.sh report DIR``: llmfleet's NVIDIA facts and VRAM rule against a real GPU's numbers.

``DIR`` holds what ``tools/gpu-check.sh run`` recorded on a lent GPU machine: ``nvidia-smi.csv``
(the exact query of :class:`llmfleet.deploy.facts.nvidia.NvidiaSmi`), ``status.txt``,
``offload.txt`` / ``server.log`` (the CUDA llama-server's layer offload), ``compute-apps.csv``
(VRAM the server holds) and ``chat-seconds.txt`` (20 timed chat requests). The report parses
them with llmfleet's own code and writes ``benchmarks/RESULTS-gpu.md``:

* the facts deploy reads (driver branch, GPU count, VRAM per GPU) next to what ``nova-hybrid``
  declares for its card, and whether deploy would accept them;
* ``nova-hybrid``'s VRAM rule evaluated with the real card's memory instead of the declared one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from llmfleet.deploy.facts.nvidia import NvidiaSmi, driver_branch
from llmfleet.inventory import load_inventory
from llmfleet.inventory.rules import vram_budget
from llmfleet.inventory.vram import backend_need

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS-gpu.md"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def report(directory: Path) -> str:
    """The markdown report of one recorded run."""
    gpus = NvidiaSmi().process(_lines(directory / "nvidia-smi.csv"))
    status = _lines(directory / "status.txt")
    out = ["# GPU check (tools/gpu-check.sh on a lent machine)", "", f"Recorded in `{directory}`.", ""]
    out += ["## Run", "", *[f"- {line}" for line in status], ""]
    if not gpus:
        out += ["No GPU was reported by nvidia-smi: nothing below is measured.", ""]
        return "\n".join(out) + "\n"
    out += [
        "## llmfleet's NVIDIA facts (NvidiaSmi) on the real nvidia-smi",
        "",
        "| index | name | driver | branch | VRAM MiB |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {g['index']} | {g['name']} | {g['driver_version']} | {driver_branch(g['driver_version'])} | {g['memory_mib']} |" for g in gpus
    ]
    inv = load_inventory(REPO / "inventories" / "nova-hybrid.yml")
    host = next(h for h in inv.hosts if h.gpu is not None)
    real_gib = gpus[0]["memory_mib"] / 1024
    out += [
        "",
        f"nova-hybrid declares {host.gpu.count} x {host.gpu.vram_gib:g} GiB, driver branch {host.gpu.driver_branch}; "
        f"the card has {len(gpus)} x {real_gib:.1f} GiB, branch {driver_branch(gpus[0]['driver_version'])}.",
        "",
        "## nova-hybrid's VRAM rule with the real card's memory",
        "",
    ]
    real = inv.model_copy(
        update={
            "hosts": [
                h.model_copy(update={"gpu": h.gpu.model_copy(update={"vram_gib": round(real_gib, 2), "count": len(gpus)})})
                for h in inv.hosts
            ]
        }
    )
    needs = [n for b in real.backends_on(host.name) for n in backend_need(real, b)]
    out += [f"- {n.model}: {n.gib:.2f} GiB" for n in needs]
    problems = list(vram_budget(real, None))
    out += ["", "Verdict: " + ("; ".join(p.message for p in problems) if problems else f"fits in {real_gib:.1f} GiB"), ""]
    offload = _lines(directory / "offload.txt")
    apps = _lines(directory / "compute-apps.csv")
    seconds = [float(x) for x in _lines(directory / "chat-seconds.txt") if x.strip()]
    out += ["## The CUDA llama-server with the tiny GGUF", "", *[f"    {line}" for line in offload[:8]], ""]
    out += [f"- VRAM held by the server (nvidia-smi compute apps, MiB): {', '.join(apps) or 'not reported'}"]
    if seconds:
        out += [
            f"- 20 chat requests straight at the server: p50 {statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: ``report DIR [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m fleetlab.gpucheck")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("report")
    p.add_argument("directory", type=Path)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = report(args.directory)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
