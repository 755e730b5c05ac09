"""Models are checked concurrently (bounded), each model's samples sequentially.

Behaviour, not a timed benchmark: bounds are generous (the benchmark measures the real ratio).
"""

from __future__ import annotations

import asyncio
import itertools
import time

from checks_fixtures import TEST_KEY, fleet

from fleetlab.faulty_backend import Behaviour, serve
from llmfleet.checks.context import Options
from llmfleet.checks.http import Timeouts
from llmfleet.checks.runner import run_checks

N = 8
DELAY = Behaviour("ok", ttft_ms=150, tpot_ms=10, tokens=6)  # ≈ 200 ms per request


def _run(models: int, concurrency: int) -> tuple[float, list[float], list[tuple[str, float, float]]]:
    names = [f"m{i}" for i in range(models)]
    with serve(dict.fromkeys(names, DELAY), gateway_auth="on", master_key=TEST_KEY) as gw, serve(dict.fromkeys(names, DELAY)) as backend:
        inv = fleet([{"name": n, "tools": "none"} for n in names], backend_port=backend.port)
        opts = Options(
            gateway=gw.url, samples=3, warmup=0, concurrency=concurrency, tools=False, timeouts=Timeouts(stall=5, total=10, cold_total=10)
        )
        t0 = time.monotonic()
        report = asyncio.run(run_checks(inv, "c.yml", opts, TEST_KEY))
        wall = time.monotonic() - t0
        log = [(e["model"], e["arrival"], e["end"]) for e in gw.log]
    assert report.exit_code == 0, [r.message for r in report.failed()]
    per_model = [sum((r.duration_ms or 0) for r in report.results if r.subject == n) / 1000 for n in names]
    return wall, per_model, log


def _overlaps(spans: list[tuple[str, float, float]]) -> bool:
    spans = sorted(spans, key=lambda s: s[1])
    return any(a[2] > b[1] for a, b in itertools.pairwise(spans))


def test_models_run_concurrently_total_is_about_one_model() -> None:
    wall, per_model, log = _run(N, concurrency=N)
    slowest = max(per_model)
    for name in {m for m, _, _ in log}:  # each model's requests one after the other
        assert not _overlaps([s for s in log if s[0] == name]), name
    assert _overlaps(log)  # different models at the same time
    # 4 sequential requests (cold + 3 samples) of ≈ 200 ms each per model
    assert slowest >= 4 * 0.15
    assert wall < 0.5 * sum(per_model)  # far from the sum (which is ≈ N × slowest)
    assert wall < 2.5 * slowest + 1.0


def test_concurrency_bound_is_respected() -> None:
    wall, per_model, log = _run(4, concurrency=1)
    # one model at a time: no two requests overlap, the wall time is at least the sum of the models
    assert not _overlaps(log)
    assert wall >= 0.95 * sum(per_model)
