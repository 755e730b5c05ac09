"""Benchmark: validate + render generated fleets of 10, 100 and 1,000 hosts (2 models per GPU host).

Measures what `llmfleet validate` does — read YAML with positions, schema, cross-checks, render
every host's files, validate the rendered files — best of 5 runs, and writes the results to
benchmarks/RESULTS-render.md. Target: 1,000 hosts / 2,000 models in under 2 s, growing about
linearly.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from fleetgen import generate_fleet

from llmfleet.inventory import load
from llmfleet.inventory.problems import errors
from llmfleet.render import render_fleet, validate_rendered

SIZES = (10, 100, 1000)
RUNS = 5
TARGET_S = 2.0


def measure(path: Path) -> dict[str, float]:
    """Time one validate + render of the fleet at ``path``, by phase."""
    t0 = time.perf_counter()
    inv = load(path).inventory
    t1 = time.perf_counter()
    files = render_fleet(inv)
    t2 = time.perf_counter()
    problems = errors(validate_rendered(files, inv))
    t3 = time.perf_counter()
    assert problems == [], problems
    return {"load": t1 - t0, "render": t2 - t1, "validate": t3 - t2, "total": t3 - t0, "files": len(files), "models": len(inv.models)}


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            path = Path(tmp) / f"bench-{size}.yml"
            path.write_text(yaml.safe_dump(generate_fleet(size), sort_keys=False))
            runs = [measure(path) for _ in range(RUNS)]
            best = min(runs, key=lambda r: r["total"])
            rows.append((size, best, statistics.median(r["total"] for r in runs), len(path.read_text().splitlines())))
            print(
                f"{size:>5} hosts: best {best['total']:.3f} s (load {best['load']:.3f}, render {best['render']:.3f}, validate {best['validate']:.3f})"
            )
    big = rows[-1][1]["total"]
    verdict = "PASS" if big < TARGET_S else "FAIL"
    lines = [
        "# Benchmark: validate + render (`make bench`)",
        "",
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, {__import__('os').cpu_count()} cores. "
        f"Best of {RUNS} runs per size; generated fleets (benchmarks/fleetgen.py): 1 gateway + N-1 GPU hosts with one Ollama backend and two models each.",
        "",
        "| hosts | models | YAML lines | files rendered | load + rules (s) | render (s) | validate rendered (s) | total best (s) | total median (s) | per host (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, r, median, n_lines in rows:
        lines.append(
            f"| {size} | {r['models']} | {n_lines} | {r['files']} | {r['load']:.3f} | {r['render']:.3f} | {r['validate']:.3f} | {r['total']:.3f} | {median:.3f} | {1000 * r['total'] / size:.2f} |"
        )
    lines += ["", f"Target: 1,000 hosts in under {TARGET_S:.0f} s — **{verdict}** ({big:.2f} s)."]
    out = Path(__file__).parent / "RESULTS-render.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
