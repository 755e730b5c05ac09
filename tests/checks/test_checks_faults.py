"""Faults a real server will not produce on demand, from the purpose-built faulty backend.

Each fault must be classified correctly, within its timeout, and none may pass.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from checks_fixtures import TEST_KEY, fleet, fleet_dict

from fleetlab.faulty_backend import Behaviour, serve
from llmfleet.checks import probes
from llmfleet.checks.cli import execute
from llmfleet.checks.context import Ctx, Options
from llmfleet.checks.http import Timeouts, make_client
from llmfleet.checks.results import Report
from llmfleet.checks.runner import run_checks
from llmfleet.checks.targets import CannotRun, model_targets

STALL_S = 0.5
TOTAL_S = 1.5
FAST = Timeouts(connect=1.0, stall=STALL_S, total=TOTAL_S, cold_total=TOTAL_S)
SLACK_S = 0.5  # scheduling slack on a loaded 2-core CI machine

# fault → (inventory fields, expected outcome of each tool probe (scenario, stream) or None when not probed)
ALL6 = [("lookup", False), ("lookup", True), ("choose", False), ("choose", True), ("no_tool", False), ("no_tool", True)]


def expect(**by_probe: str) -> dict[tuple[str, bool], str]:
    out = {}
    for key, val in by_probe.items():
        scen, _, mode = key.partition("__")
        out[(scen, mode == "stream")] = val
    return {p: out.get(p, "ok") for p in ALL6}


CASES: dict[str, tuple[Behaviour, dict, dict[tuple[str, bool], str] | None]] = {
    "http500": (Behaviour("http500"), {"tools": "required"}, {p: "error" for p in ALL6}),
    "malformed": (
        Behaviour("malformed_args"),
        {"tools": "required"},
        expect(
            lookup="malformed_arguments",
            lookup__stream="malformed_arguments",
            choose="malformed_arguments",
            choose__stream="malformed_arguments",
        ),
    ),
    "schema-invalid": (
        Behaviour("invalid_args"),
        {"tools": "required"},
        expect(
            lookup="malformed_arguments",
            lookup__stream="malformed_arguments",
            choose="malformed_arguments",
            choose__stream="malformed_arguments",
        ),
    ),
    "text-call": (Behaviour("call_in_text"), {"tools": "required"}, {p: "tool_call_in_content" for p in ALL6}),
    "prose": (
        Behaviour("prose"),
        {"tools": "required"},
        expect(lookup="no_tool_call", lookup__stream="no_tool_call", choose="no_tool_call", choose__stream="no_tool_call"),
    ),
    "wrong-tool": (
        Behaviour("wrong_tool"),
        {"tools": "required"},
        expect(
            lookup="wrong_tool",
            lookup__stream="wrong_tool",
            choose="wrong_tool",
            choose__stream="wrong_tool",
            no_tool="unexpected_tool_call",
            no_tool__stream="unexpected_tool_call",
        ),
    ),
    "overcall": (
        Behaviour("overcall"),
        {"tools": "required"},
        expect(no_tool="unexpected_tool_call", no_tool__stream="unexpected_tool_call"),
    ),
    "stream-broken": (
        Behaviour("stream_broken"),
        {"tools": "required"},
        expect(lookup__stream="stream_mismatch", choose__stream="stream_mismatch"),
    ),
    "truncated": (
        Behaviour("truncated"),
        {"tools": "required"},
        expect(lookup__stream="stream_mismatch", choose__stream="stream_mismatch", no_tool__stream="stream_mismatch"),
    ),
    "error-event": (
        Behaviour("error_event"),
        {"tools": "required"},
        expect(lookup__stream="error", choose__stream="error", no_tool__stream="error"),
    ),
    "stall": (Behaviour("stall"), {"tools": "required"}, {p: "error" for p in ALL6}),
    "hang": (Behaviour("hang"), {"tools": "required"}, {p: "error" for p in ALL6}),
    "drip": (Behaviour("drip", tpot_ms=100), {"tools": "none"}, None),
    "slow": (Behaviour("ok", ttft_ms=300, tokens=4), {"tools": "none", "slo": {"ttft_p95_ms": 100, "e2e_p95_ms": 5000}}, None),
}


@pytest.fixture(scope="module")
def fault_run() -> tuple[Report, float]:
    """One run over every fault (and a healthy control) through a stand-in gateway with auth on."""
    behaviours = {name: b for name, (b, _, _) in CASES.items()}
    behaviours["healthy"] = Behaviour("ok", tokens=4)
    behaviours["embed"] = Behaviour("ok")
    # the same behaviours twice: as the gateway (auth on) and as the backend behind it (no auth)
    with serve(behaviours, gateway_auth="on", master_key=TEST_KEY) as gw, serve(behaviours) as backend:
        models = [{"name": name, **fields} for name, (_, fields, _) in CASES.items()]
        models.append({"name": "healthy", "tools": "required", "slo": {"ttft_p95_ms": 1000, "e2e_p95_ms": 2000}})
        models.append({"name": "embed", "mode": "embedding", "tools": "none"})
        inv = fleet(models, backend_port=backend.port)
        opts = Options(gateway=gw.url, samples=2, warmup=0, concurrency=len(models), timeouts=FAST, global_timeout=60, direct=True)
        t0 = time.monotonic()
        report = asyncio.run(run_checks(inv, "faults.yml", opts, TEST_KEY))
        return report, time.monotonic() - t0


def results_of(report: Report, model: str) -> dict:
    return {r.check: r for r in report.results if r.subject == model}


def test_healthy_control_passes_everything(fault_run) -> None:
    report, _ = fault_run
    res = results_of(report, "healthy")
    assert {c: r.status for c, r in res.items()} == {
        "backend": "pass",
        "answer": "pass",
        "tools": "pass",
        "latency": "pass",
        "overhead": "pass",
    }, [r.message for r in res.values()]
    assert all(p.outcome == "ok" for p in res["tools"].tool_probes or [])
    assert res["latency"].latency and res["latency"].latency.slo_met is True


def test_embedding_model_answers_and_is_timed(fault_run) -> None:
    res = results_of(fault_run[0], "embed")
    assert res["answer"].status == "pass" and res["latency"].status == "pass"
    assert res["tools"].status == "skip" and res["overhead"].status == "skip"


#: faults whose first answer already fails: the model is declared down and its other probes are skipped
DOWN = ("http500", "truncated", "error-event", "stall", "hang", "drip")


@pytest.fixture(scope="module")
def down_probes() -> dict[str, list]:
    """The tool probe run on its own against each fault that takes a model down (what it would have said)."""
    names = [m for m in DOWN if CASES[m][2] is not None]
    behaviours = {name: CASES[name][0] for name in names}
    with serve(behaviours, gateway_auth="on", master_key=TEST_KEY) as gw:
        inv = fleet([{"name": n, **CASES[n][1]} for n in names], backend_port=gw.port)
        opts = Options(gateway=gw.url, timeouts=FAST)

        async def probe_all() -> dict[str, list]:
            async with make_client(4) as client:
                ctx = Ctx(inv, gw.url, TEST_KEY, opts, client)
                targets = {t.name: t for t in model_targets(inv, names)}
                results = await asyncio.gather(*(probes.tools(ctx, targets[n]) for n in names))
                return {n: r.tool_probes or [] for n, r in zip(names, results, strict=True)}

        return asyncio.run(probe_all())


@pytest.mark.parametrize("model", [m for m, (_, _, probes) in CASES.items() if probes is not None])
def test_each_tool_fault_is_classified_and_fails(fault_run, down_probes, model: str) -> None:
    report, _ = fault_run
    res = results_of(report, model)
    if model in DOWN:
        assert res["tools"].status == "skip" and "the model is down" in res["tools"].message, res["tools"].message
        tool_probes = down_probes[model]
    else:
        assert res["tools"].status == "fail"
        tool_probes = res["tools"].tool_probes or []
    probes_by = {(p.scenario, p.stream): p for p in tool_probes}
    got = {k: p.outcome for k, p in probes_by.items()}
    assert got == CASES[model][2], {k: p.detail for k, p in probes_by.items()}
    for p in probes_by.values():  # each probe ended within its own bound
        assert p.duration_ms / 1000 <= TOTAL_S + SLACK_S, (p.scenario, p.stream, p.duration_ms)


def test_error_probes_carry_the_upstream_message(fault_run, down_probes) -> None:
    assert all("HTTP 500" in p.detail and "CUDA out of memory" in p.detail for p in down_probes["http500"])
    assert "CUDA out of memory" in results_of(fault_run[0], "http500")["answer"].message
    ev = {(p.scenario, p.stream): p for p in down_probes["error-event"]}
    assert "injected error mid-stream" in ev[("lookup", True)].detail


@pytest.mark.parametrize(
    "model, words",
    [
        ("stall", "stalled"),
        ("hang", "no first byte within 1.5 s"),
        ("drip", "within 1.5 s"),
        ("truncated", "without finish_reason"),
        ("error-event", "error in stream"),
        ("http500", "HTTP 500"),
    ],
)
def test_stream_faults_fail_answer_and_the_model_is_down(fault_run, model: str, words: str) -> None:
    res = results_of(fault_run[0], model)
    assert res["answer"].status == "fail" and words in res["answer"].message, res["answer"].message
    assert res["answer"].duration_ms is not None and res["answer"].duration_ms / 1000 <= TOTAL_S + SLACK_S
    for check in ("tools", "latency", "overhead"):  # declared down at once: no probe costs another timeout
        assert res[check].status == "skip" and "the model is down" in res[check].message and words in res[check].message


def test_slo_breach_fails_latency_with_numbers(fault_run) -> None:
    res = results_of(fault_run[0], "slow")
    lat = res["latency"]
    assert lat.status == "fail" and "TTFT p95" in lat.message and "SLO 100 ms" in lat.message
    assert lat.latency and lat.latency.ttft_ms and 290 <= lat.latency.ttft_ms.p50 <= 450


def test_no_fault_passes_and_run_time_is_bounded(fault_run) -> None:
    report, elapsed = fault_run
    for model in CASES:
        statuses = {r.check: r.status for r in report.results if r.subject == model}
        assert "fail" in statuses.values(), (model, statuses)
    assert report.outcome == "fail" and report.exit_code == 1
    # a dead model (stall/hang) costs its one first request; the slowest healthy-ish model is the bound:
    # 6 probes + 1 direct probe + 2×(gateway+direct) samples, models concurrently.
    assert elapsed < 12 * (STALL_S + SLACK_S) + 3
    for model in DOWN:
        res = results_of(report, model)
        assert sum(r.duration_ms or 0 for r in res.values()) / 1000 <= TOTAL_S + 2 * SLACK_S + 1, model


# ------------------------------------------------------------------ gateway faults
def _gateway_run(auth: str | None, key: str = TEST_KEY) -> Report:
    with (
        serve({"m": Behaviour("ok")}, gateway_auth=auth, master_key=TEST_KEY if auth == "on" else None) as gw,
        serve({"m": Behaviour("ok")}) as backend,
    ):
        inv = fleet([{"name": "m"}], backend_port=backend.port)
        opts = Options(command="health", gateway=gw.url, timeouts=FAST, global_timeout=20)
        return asyncio.run(run_checks(inv, "x.yml", opts, key))


def test_open_gateway_fails_auth() -> None:
    report = _gateway_run("off")
    auth = next(r for r in report.results if r.check == "auth")
    assert auth.status == "fail" and "OPEN" in auth.message
    assert report.exit_code == 1


def test_gateway_answering_500_without_key_fails_auth() -> None:
    report = _gateway_run("error")
    auth = next(r for r in report.results if r.check == "auth")
    assert auth.status == "fail" and "HTTP 500" in auth.message and "prisma" in auth.message


def test_locked_gateway_passes_auth() -> None:
    report = _gateway_run("on")
    assert {r.check: r.status for r in report.results if r.kind == "gateway"} == {
        "liveness": "pass",
        "readiness": "pass",
        "auth": "pass",
        "models": "pass",
    }
    assert report.exit_code == 0


def test_rejected_key_cannot_run() -> None:
    with pytest.raises(CannotRun, match="rejects the master key from env:LLMFLEET_TEST_MASTER_KEY"):
        _gateway_run("on", key="sk-not-the-deployed-key-0123456789abcdef")


def test_models_diff_lists_missing_and_extra() -> None:
    with serve({"m": Behaviour(), "stray": Behaviour()}, gateway_auth="on", master_key=TEST_KEY) as fb:
        inv = fleet([{"name": "m"}, {"name": "gone"}], backend_port=fb.port)
        opts = Options(command="health", gateway=fb.url, timeouts=FAST, models=["m"])
        report = asyncio.run(run_checks(inv, "x.yml", opts, TEST_KEY))
    models = next(r for r in report.results if r.check == "models")
    assert models.status == "fail" and models.models_diff
    assert (models.models_diff.missing, models.models_diff.extra) == (["gone"], ["stray"])


def test_global_timeout_fails_unfinished_checks_and_returns_in_time() -> None:
    with serve({"slowpoke": Behaviour("hang"), "queued": Behaviour()}, gateway_auth="on", master_key=TEST_KEY) as fb:
        inv = fleet([{"name": "slowpoke"}, {"name": "queued"}], backend_port=fb.port)
        opts = Options(
            gateway=fb.url,
            concurrency=1,
            samples=1,
            warmup=0,
            global_timeout=2.0,
            timeouts=Timeouts(connect=1, stall=30, total=30, cold_total=30),
        )
        t0 = time.monotonic()
        report = asyncio.run(run_checks(inv, "x.yml", opts, TEST_KEY))
        elapsed = time.monotonic() - t0
    assert elapsed < 5
    slow = results_of(report, "slowpoke")
    assert slow["answer"].status == "fail" and "not finished within the global timeout" in slow["answer"].message
    assert "answer" in slow["answer"].message  # names where it was
    queued = results_of(report, "queued")
    assert all(r.status == "fail" and "not started" in r.message for r in queued.values())


# ------------------------------------------------------------------ CLI exit codes
def test_cli_exit_codes_and_one_line_errors(write_fleet, capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMFLEET_TEST_MASTER_KEY", TEST_KEY)
    with (
        serve({"m": Behaviour("ok", tokens=3)}, gateway_auth="on", master_key=TEST_KEY) as gw,
        serve({"m": Behaviour("ok", tokens=3)}) as backend,
    ):
        path = write_fleet(fleet_dict([{"name": "m", "tools": "required"}], backend_port=backend.port))
        ok = execute(path, Options(command="health", gateway=gw.url, timeouts=FAST), quiet=True)
        assert ok == 0
        opts = Options(gateway=gw.url, samples=1, warmup=0, timeouts=FAST)
        assert execute(path, opts, quiet=True) == 0

        # unknown model → 2
        assert execute(path, Options(command="health", gateway=gw.url, models=["nope"], timeouts=FAST), quiet=True) == 2
        assert "unknown model(s) nope" in capsys.readouterr().err

        # missing key → 2, names the variable
        monkeypatch.delenv("LLMFLEET_TEST_MASTER_KEY")
        json_out = tmp_path / "r.json"
        assert execute(path, Options(command="health", gateway=gw.url, timeouts=FAST), json_out=json_out, quiet=True) == 2
        err = capsys.readouterr().err
        assert "LLMFLEET_TEST_MASTER_KEY is not set" in err and "Traceback" not in err
        assert Report.model_validate_json(json_out.read_text()).outcome == "cannot_run"
        monkeypatch.setenv("LLMFLEET_TEST_MASTER_KEY", TEST_KEY)

    # the gateway is gone → 2 with the URL and the reason
    assert execute(path, Options(command="health", gateway=gw.url, timeouts=FAST), quiet=True) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"gateway unreachable at {gw.url}" in err and "Traceback" not in err

    # a bad inventory → 2
    bad = write_fleet({"fleet": "x"}, "bad.yml")
    assert execute(bad, Options(command="health"), quiet=True) == 2
    assert "invalid inventory" in capsys.readouterr().err


def test_cli_check_failure_exits_1_and_names_failed_checks(write_fleet, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LLMFLEET_TEST_MASTER_KEY", TEST_KEY)
    with serve({"m": Behaviour("prose")}, gateway_auth="on", master_key=TEST_KEY) as gw, serve({"m": Behaviour()}) as be:
        path = write_fleet(fleet_dict([{"name": "m", "tools": "required"}], backend_port=be.port))
        code = execute(path, Options(gateway=gw.url, samples=1, warmup=0, timeouts=FAST), quiet=True)
    assert code == 1
    assert "1 check(s) failed: m tools" in capsys.readouterr().err


def test_models_the_probes_cannot_ask_are_skipped_with_the_reason_never_failed_or_passed() -> None:
    """A wildcard route or an image/audio/rerank model gets no chat probe (it would fail falsely); each says why."""
    generous = Timeouts(connect=5.0, stall=15.0, total=30.0, cold_total=30.0)
    with serve({"m": Behaviour()}, gateway_auth="on", master_key=TEST_KEY) as gw:
        inv = fleet(
            [
                {"name": "m"},
                {"name": "painter", "upstream": "m", "mode": "image_generation"},
                {"name": "ranker", "upstream": "m", "mode": "rerank"},
                {"name": "openai/*", "upstream": "m"},
            ],
            backend_port=gw.port,
        )
        opts = Options(gateway=gw.url, samples=1, warmup=0, timeouts=generous, global_timeout=120)
        report = asyncio.run(run_checks(inv, "x.yml", opts, TEST_KEY))
    assert results_of(report, "m")["answer"].status == "pass"
    for name, why in (("painter", "mode 'image_generation'"), ("ranker", "mode 'rerank'"), ("openai/*", "wildcard route")):
        res = results_of(report, name)
        probed = {c: r for c, r in res.items() if c != "backend"}
        assert probed and all(r.status == "skip" for r in probed.values()), {c: r.status for c, r in res.items()}
        assert all(why in r.message for r in probed.values()), [r.message for r in probed.values()]
