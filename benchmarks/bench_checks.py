"""Benchmark of the post-deploy checks; writes benchmarks/RESULTS-checks.md.

1. Accuracy: against the faulty stand-in with a known injected delay (200 ms to the first token,
   20 ms per token), the checker's p50 TTFT and p50 time per output token must be within 2 ms of
   the truth.
2. Overhead: the checker's streamed sample vs a bare httpx stream of the same request (interleaved):
   difference in measured TTFT / end-to-end, and client CPU time per request.
3. Concurrency: wall time of a full ``check`` of 20 models ≤ 1.2 × that of the slowest single model.
4. Parser: time and peak memory of the SSE parser + assembler on a 20 MiB answer, as one event and
   as 20,480 events of 1 KiB, fed in 64 KiB reads (linear: well under 2 s each; memory bounded by the
   caps, not by the answer), and the same answers streamed by the stand-in (TTFT must stay honest).
5. Verdict accuracy: the fault suite (``tests/checks/fault_suite.py``) against the stand-in; every
   check and probe verdict is compared with its truth (criterion: no false green, no false red).

The stand-in runs in its own process (so its threads do not share our GIL), on loopback only.
Run: ``python benchmarks/bench_checks.py [--quick]``; exit 1 when a criterion is not met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmfleet.checks.answers import StreamAssembler  # noqa: E402
from llmfleet.checks.context import Options  # noqa: E402
from llmfleet.checks.http import Timeouts, make_client  # noqa: E402
from llmfleet.checks.latency import latency_body, timed_stream  # noqa: E402
from llmfleet.checks.runner import run_checks  # noqa: E402
from llmfleet.checks.sse import SSEParser  # noqa: E402
from llmfleet.inventory.model import Inventory  # noqa: E402

TTFT_MS, TPOT_MS, TOKENS = 200.0, 20.0, 16
KEY = "sk-bench-" + "0" * 32
RESULTS = ROOT / "benchmarks" / "RESULTS-checks.md"


@contextlib.contextmanager
def stand_in(models: list[str], spec: str, *, gateway: bool = False) -> Iterator[str]:
    """Run ``python -m fleetlab.faulty_backend`` in a subprocess; yield its URL; stop it (by its pid)."""
    argv = [sys.executable, "-m", "fleetlab.faulty_backend", "--port", "0"]
    for m in models:
        argv += ["--model", f"{m}={spec}"]
    env = dict(os.environ)
    if gateway:
        argv += ["--gateway-auth", "on", "--master-key-env", "BENCH_KEY"]
        env["BENCH_KEY"] = KEY
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def bare_sample(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[float, float, float]:
    """The simplest correct stream timing with httpx (same start point as the checker): (ttft_ms, e2e_ms, cpu_ms)."""
    cpu0 = time.process_time()
    sent: list[int] = []

    async def trace(event: str, info: dict) -> None:
        if not sent and event.endswith((".connect_tcp.started", ".send_request_headers.started")):
            sent.append(time.perf_counter_ns())

    first = None
    async with client.stream("POST", url, content=body, headers={"content-type": "application/json"}, extensions={"trace": trace}) as resp:
        async for raw in resp.aiter_raw():
            if first is None and b'"content": "' in raw and b'"content": ""' not in raw:
                first = time.perf_counter_ns()
    t1 = time.perf_counter_ns()
    assert first is not None
    return (first - sent[0]) / 1e6, (t1 - sent[0]) / 1e6, (time.process_time() - cpu0) * 1000


async def accuracy_and_overhead(n: int) -> dict:
    spec = f"ok,ttft={TTFT_MS:g},tpot={TPOT_MS:g},tokens={TOKENS}"
    with stand_in(["m"], spec) as base:
        url = base + "/v1/chat/completions"
        body_dict = latency_body("m", TOKENS)
        body = json.dumps(body_dict).encode()
        ttft, tpot, e2e, cpu = [], [], [], []
        b_ttft, b_e2e, b_cpu = [], [], []
        async with make_client(4) as client:
            for _ in range(3):  # warm-up: connection set up, code paths warm
                await timed_stream(client, url, body_dict, headers={}, timeouts=Timeouts())
                await bare_sample(client, url, body)
            for _ in range(n):
                c0 = time.process_time()
                out = await timed_stream(client, url, body_dict, headers={}, timeouts=Timeouts())
                cpu.append((time.process_time() - c0) * 1000)
                s = out.sample
                assert s.ok and s.ttft_ms is not None and s.tpot_ms is not None and s.e2e_ms is not None, s
                ttft.append(s.ttft_ms)
                tpot.append(s.tpot_ms)
                e2e.append(s.e2e_ms)
                bt, be, bc = await bare_sample(client, url, body)
                b_ttft.append(bt)
                b_e2e.append(be)
                b_cpu.append(bc)
            log = (await client.get(base + "/_faulty/log")).json()
    # the stand-in's own timestamps (same monotonic clock): the checker's requests are every other one after warm-up
    mine = log[6::2][:n]
    srv_ttft = [(e["first_token"] - e["arrival"]) * 1000 for e in mine]
    srv_tpot = [(e["last_token"] - e["first_token"]) * 1000 / (e["tokens"] - 1) for e in mine]
    med = statistics.median
    return {
        "n": n,
        "ttft_p50": med(ttft),
        "ttft_p95": sorted(ttft)[int(0.95 * (n - 1))],
        "tpot_p50": med(tpot),
        "tpot_p95": sorted(tpot)[int(0.95 * (n - 1))],
        "e2e_p50": med(e2e),
        "ttft_err": med(ttft) - TTFT_MS,
        "tpot_err": med(tpot) - TPOT_MS,
        "e2e_truth": TTFT_MS + (TOKENS - 1) * TPOT_MS,
        "bare_ttft_p50": med(b_ttft),
        "bare_e2e_p50": med(b_e2e),
        "cpu_p50": med(cpu),
        "bare_cpu_p50": med(b_cpu),
        "srv_ttft_p50": med(srv_ttft),
        "srv_tpot_p50": med(srv_tpot),
        "path_p50": med(t - s for t, s in zip(ttft, srv_ttft, strict=True)),
    }


def _inventory(names: list[str], backend_port: int, fields: dict[str, dict] | None = None) -> Inventory:
    slo = {"slo": {"ttft_p95_ms": 1000, "e2e_p95_ms": 3000}}
    return Inventory.model_validate(
        {
            "fleet": "bench",
            "hosts": [{"name": "lab", "address": "127.0.0.1", "roles": ["gateway", "gpu"]}],
            "backends": [{"name": "fb", "kind": "openai_compatible", "host": "lab", "port": backend_port, "bind": "loopback"}],
            "models": [
                {"name": n, "backend": "fb", "upstream": n, "tools": "required", **(slo if fields is None else fields.get(n, {}))}
                for n in names
            ],
            "gateway": {
                "litellm_version": "1.106.2",
                "runtime": "systemd-venv",
                "port": 14999,
                "bind": "127.0.0.1",
                "master_key": "env:BENCH_KEY",
            },
        }
    )


async def fleet_wall(models: int, samples: int) -> tuple[float, float, int]:
    """(wall time of a full check of ``models`` models, slowest model's own time, exit code)."""
    names = [f"m{i:02d}" for i in range(models)]
    spec = f"ok,ttft={TTFT_MS:g},tpot={TPOT_MS:g},tokens={TOKENS}"
    with stand_in(names, spec, gateway=True) as gw, stand_in(names, spec) as backend:
        inv = _inventory(names, int(backend.rsplit(":", 1)[1]))
        opts = Options(gateway=gw, samples=samples, warmup=1, concurrency=max(models, 1))
        t0 = time.monotonic()
        report = await run_checks(inv, "bench.yml", opts, KEY)
        wall = time.monotonic() - t0
    per_model = [sum(r.duration_ms or 0 for r in report.results if r.subject == n) / 1000 for n in names]
    return wall, max(per_model), report.exit_code


BIG = 20 * 1024 * 1024


def _big_stream(events: int) -> bytes:
    """A 20 MiB answer as ``events`` content events (one SSE event each), then finish and [DONE]."""
    size = BIG // events
    text = "x" * size
    one = ("data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}) + "\n\n").encode()
    tail = b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    return one * events + tail


def parse_cost(events: int) -> dict:
    """CPU time and peak traced memory of parser + assembler over a 20 MiB answer fed in 64 KiB reads."""
    import tracemalloc

    raw = _big_stream(events)
    reads = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]

    def run() -> StreamAssembler:
        parser, asm = SSEParser(), StreamAssembler()
        for r in reads:
            for ev in parser.feed(r):
                asm.feed_event(ev)
                if asm.done:
                    return asm
        return asm

    c0 = time.process_time()
    asm = run()
    cpu = time.process_time() - c0
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    resp = asm.response()
    return {"events": events, "bytes": len(raw), "cpu_s": cpu, "peak_mib": peak / 1048576, "capped": resp.capped or resp.stream_problem}


async def streamed_big(events: int) -> dict:
    """The same answer streamed by the stand-in: what the checker reports, and how long it took."""
    size = BIG // events
    with stand_in(["big"], f"ok,tokens={events},event_bytes={size}") as base:
        async with make_client(2) as client:
            body = latency_body("big", events)
            t0 = time.monotonic()
            out = await timed_stream(client, base + "/v1/chat/completions", body, headers={}, timeouts=Timeouts(total=120, stall=60))
            wall = time.monotonic() - t0
            log = (await client.get(base + "/_faulty/log")).json()[-1]
    s = out.sample
    return {
        "events": events,
        "ok": s.ok,
        "ttft_ms": s.ttft_ms,
        "srv_first_ms": (log["first_token"] - log["arrival"]) * 1000 if log.get("first_token") else None,
        "e2e_ms": s.e2e_ms,
        "srv_end_ms": (log["end"] - log["arrival"]) * 1000,
        "wall_s": wall,
        "capped": s.capped or s.error,
    }


async def suite_accuracy() -> dict:
    """Every verdict of the fault suite against its truth (straight against the stand-in)."""
    sys.path.insert(0, str(ROOT / "tests" / "checks"))
    from fault_suite import PROBE_TIMEOUTS, SUITE, TIMEOUTS

    from fleetlab.faulty_backend import serve
    from llmfleet.checks import probes
    from llmfleet.checks.context import Ctx
    from llmfleet.checks.targets import model_targets

    names = list(SUITE)
    with serve({n: f.behaviour for n, f in SUITE.items()}, gateway_auth="on", master_key=KEY) as gw:
        inv = _inventory(names, gw.port, fields={n: f.fields for n, f in SUITE.items()})
        opts = Options(gateway=gw.url, samples=3, warmup=1, concurrency=8, timeouts=TIMEOUTS, global_timeout=300)
        t0 = time.monotonic()
        report = await run_checks(inv, "suite.yml", opts, KEY)
        wall = time.monotonic() - t0
        gw.release()
    with serve({n: type(f.behaviour)(f.behaviour.fault, tokens=f.behaviour.tokens, framing=f.behaviour.framing) for n, f in SUITE.items()},
               gateway_auth="on", master_key=KEY) as gw:  # fmt: skip
        inv = _inventory(names, gw.port, fields={n: f.fields for n, f in SUITE.items()})
        async with make_client(8) as client:
            ctx = Ctx(inv, gw.url, KEY, Options(gateway=gw.url, timeouts=PROBE_TIMEOUTS), client)
            targets = model_targets(inv, names)
            tool_results = await asyncio.gather(*(probes.tools(ctx, t) for t in targets))
    verdicts = right = false_green = false_red = 0
    for name, fault in SUITE.items():
        got = {r.check: r.status for r in report.results if r.subject == name}
        for check, truth in fault.checks.items():
            verdicts += 1
            right += got.get(check) == truth
            false_green += truth == "fail" and got.get(check) == "pass"
            false_red += truth == "pass" and got.get(check) == "fail"
    for t, res in zip(targets, tool_results, strict=True):
        truth = SUITE[t.name].probes
        for p in res.tool_probes or []:
            verdicts += 1
            want = truth[(p.scenario, p.stream)]
            right += p.outcome == want
            false_green += want != "ok" and p.outcome == "ok"
            false_red += want == "ok" and p.outcome != "ok"
    return {"faults": len(SUITE), "verdicts": verdicts, "right": right, "false_green": false_green, "false_red": false_red, "wall_s": wall}


def write_results(acc: dict, single: tuple, many: tuple, models: int, samples: int, ok: dict[str, bool], extra: dict) -> None:
    mark = {True: "✅ met", False: "❌ NOT met"}
    lines = [
        "# Benchmark: post-deploy checks (`python benchmarks/bench_checks.py`)",
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.node() and 'this machine'}: "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"httpx {httpx.__version__}, load average {extra['load'][0]:.1f} before / {os.getloadavg()[0]:.1f} after (the machine is "
        "shared: a load above the core count slows the client and the stand-in alike, see the bare-httpx column). The faulty stand-in (`fleetlab/faulty_backend.py`) runs in its own process on "
        "loopback; it writes token *i* at exactly `ttft + i × tpot` after reading the request (deadline-based sleeps), "
        "which is the ground truth.",
        "",
        "## 1. Accuracy (injected 200 ms to first token, 20 ms per token, 16 tokens)",
        "",
        "| measure | truth | p50 measured | error at p50 | p95 measured | criterion |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| TTFT | {TTFT_MS:.1f} ms | {acc['ttft_p50']:.2f} ms | {acc['ttft_err']:+.2f} ms | {acc['ttft_p95']:.2f} ms | "
        f"\\|error\\| ≤ 2 ms: {mark[ok['ttft']]} |",
        f"| time per output token | {TPOT_MS:.1f} ms | {acc['tpot_p50']:.3f} ms | {acc['tpot_err']:+.3f} ms | "
        f"{acc['tpot_p95']:.3f} ms | \\|error\\| ≤ 2 ms: {mark[ok['tpot']]} |",
        f"| end-to-end | {acc['e2e_truth']:.1f} ms (+ final events) | {acc['e2e_p50']:.2f} ms | | | |",
        "",
        f"{acc['n']} sequential samples after 3 warm-up requests.",
        "",
        "Where the TTFT error comes from (the stand-in logs its own `perf_counter` times; the clock is system-wide):",
        "",
        "| | p50 |",
        "| --- | --- |",
        f"| stand-in: request line arrived → first token written | {acc['srv_ttft_p50']:.2f} ms "
        f"(schedule fidelity: {acc['srv_ttft_p50'] - TTFT_MS:+.2f} ms) |",
        f"| stand-in: time per token written | {acc['srv_tpot_p50']:.3f} ms |",
        f"| checker TTFT − stand-in TTFT (request on the wire → request line read, first token written → chunk out of httpx) | {acc['path_p50']:.2f} ms |",
        "",
        "## 2. Checker overhead vs a bare httpx stream (same request, interleaved)",
        "",
        "| | checker | bare httpx | difference |",
        "| --- | --- | --- | --- |",
        f"| TTFT p50 | {acc['ttft_p50']:.2f} ms | {acc['bare_ttft_p50']:.2f} ms | {acc['ttft_p50'] - acc['bare_ttft_p50']:+.2f} ms |",
        f"| e2e p50 | {acc['e2e_p50']:.2f} ms | {acc['bare_e2e_p50']:.2f} ms | {acc['e2e_p50'] - acc['bare_e2e_p50']:+.2f} ms |",
        f"| client CPU per request p50 | {acc['cpu_p50']:.2f} ms | {acc['bare_cpu_p50']:.2f} ms | "
        f"{acc['cpu_p50'] - acc['bare_cpu_p50']:+.2f} ms |",
        "",
        "The checker parses every SSE event (JSON) and assembles tool-call deltas; the bare loop only scans bytes. "
        "Timestamps are taken on chunk arrival before parsing, so parsing cost shows up in CPU, not in TTFT.",
        "",
        f"## 3. Concurrency: {models} models vs 1 (full `check`: answer, 6 tool probes, 1 warm-up + {samples} samples)",
        "",
        "| run | wall time | slowest model's own time | exit |",
        "| --- | --- | --- | --- |",
        f"| 1 model | {single[0]:.2f} s | {single[1]:.2f} s | {single[2]} |",
        f"| {models} models, concurrency {models} | {many[0]:.2f} s | {many[1]:.2f} s | {many[2]} |",
        "",
        f"Ratio {models}-model wall / single-model wall = **{many[0] / single[0]:.3f}** "
        f"(criterion ≤ 1.2: {mark[ok['wall']]}); the sum of the {models} models' own times would be ≈ "
        f"{models * single[1]:.0f} s.",
        "",
        "## 4. SSE parser on a 20 MiB answer (parser + assembler, 64 KiB reads; CPU time and peak traced memory)",
        "",
        "| answer | bytes | CPU | peak memory | cap reported |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {_shape(p)} | {p['bytes'] / 1048576:.1f} MiB | {p['cpu_s']:.2f} s | {p['peak_mib']:.1f} MiB | {p['capped']} |"
            for p in extra["parse"]
        ],
        "",
        f"Criterion: each under 2 s of CPU and peak memory bounded by the caps (1 MiB of content kept, 4 MiB per event), "
        f"not by the answer: {mark[ok['parser']]}. (Before: one 20 MiB event took 6-22 s of CPU, quadratic.)",
        "",
        "The same answers streamed by the stand-in over loopback (`timed_stream`, the checker's own request path):",
        "",
        "| answer | checker TTFT | stand-in first write | checker e2e | stand-in end | sample | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {_shape(p)} | {_ms(p['ttft_ms'])} | {_ms(p['srv_first_ms'])} | "
            f"{_ms(p['e2e_ms'])} | {_ms(p['srv_end_ms'])} | {'ok' if p['ok'] else 'fail'} | {p['capped'] or ''} |"
            for p in extra["streamed"]
        ],
        "",
        "## 5. Verdict accuracy on the fault suite (`tests/checks/fault_suite.py`, straight against the stand-in)",
        "",
        f"{extra['suite']['faults']} faults, {extra['suite']['verdicts']} verdicts (check statuses and tool-probe outcomes): "
        f"**{extra['suite']['right']} match their truth**, {extra['suite']['false_green']} false greens, "
        f"{extra['suite']['false_red']} false reds (criterion: none of either: {mark[ok['suite']]}); the run took "
        f"{extra['suite']['wall_s']:.1f} s with concurrency 8 (a dead model costs one cold timeout).",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


def _shape(p: dict) -> str:
    return "one event" if p["events"] == 1 else f"{p['events']:,} events of {BIG // p['events'] // 1024} KiB"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples (smoke run; results still written)")
    args = ap.parse_args()
    load = os.getloadavg()
    n = 15 if args.quick else 40
    models, samples = 20, (3 if args.quick else 5)
    acc = asyncio.run(accuracy_and_overhead(n))
    single = asyncio.run(fleet_wall(1, samples))
    many = asyncio.run(fleet_wall(models, samples))
    ok = {
        "ttft": abs(acc["ttft_err"]) <= 2.0,
        "tpot": abs(acc["tpot_err"]) <= 2.0,
        "wall": many[0] <= 1.2 * single[0] and single[2] == 0 and many[2] == 0,
    }
    extra = {
        "load": load,
        "parse": [parse_cost(1), parse_cost(20_480)],
        "streamed": [asyncio.run(streamed_big(1)), asyncio.run(streamed_big(20_480))],
        "suite": asyncio.run(suite_accuracy()),
    }
    ok["parser"] = all(p["cpu_s"] < 2.0 and p["peak_mib"] < 64 for p in extra["parse"])
    ok["suite"] = extra["suite"]["false_green"] == 0 and extra["suite"]["false_red"] == 0
    write_results(acc, single, many, models, samples, ok, extra)
    print(RESULTS.read_text())
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
