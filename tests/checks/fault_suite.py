"""The second fault suite (issue 13): each fault of the faulty stand-in with its truth.

A truth is the verdict a careful human gives: the status of every check of the model, and the
outcome of every tool probe. ``DOWN`` means the first answer fails and everything after it is skipped
with that reason. Shared by the direct test (stand-in gateway) and the real-LiteLLM test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetlab.faulty_backend import FRAMINGS, Behaviour
from llmfleet.checks.http import Timeouts

STALL_S = 4.0
TOTAL_S = 10.0
COLD_S = 10.0
SLACK_S = 0.75
TIMEOUTS = Timeouts(connect=1.0, stall=STALL_S, total=TOTAL_S, cold_total=COLD_S)
#: the tool probes on their own (no cold load among them): only healthy-path bounds, generous for a loaded machine
PROBE_TIMEOUTS = Timeouts(connect=5.0, stall=15.0, total=30.0, cold_total=30.0)

PROBES = [("lookup", False), ("lookup", True), ("choose", False), ("choose", True), ("no_tool", False), ("no_tool", True)]
PASS_ALL = {"answer": "pass", "tools": "pass", "latency": "pass"}
DOWN = {"answer": "fail", "tools": "skip", "latency": "skip"}


def probes(default: str = "ok", **by: str) -> dict[tuple[str, bool], str]:
    """Probe truths: ``lookup``/``lookup__stream``… override ``default``; ``needs_tool`` sets lookup and choose."""
    out = {p: default for p in PROBES}
    for key, val in by.items():
        if key == "needs_tool":
            for p in PROBES[:4]:
                out[p] = val
            continue
        scen, _, mode = key.partition("__")
        out[(scen, mode == "stream")] = val
    return out


@dataclass(frozen=True)
class Fault:
    """One fault and its truth."""

    behaviour: Behaviour
    checks: dict[str, str]  # check → status
    probes: dict[tuple[str, bool], str] = field(default_factory=probes)
    fields: dict = field(default_factory=dict)  # extra inventory fields of the model
    words: str | None = None  # must appear in the answer message (or the first failing check's)


SUITE: dict[str, Fault] = {
    **{
        f"framing-{f}": Fault(Behaviour("ok", tokens=4, framing=f), PASS_ALL)
        for f in FRAMINGS  # legal SSE framings: a healthy model must pass
    },
    "parallel-ok": Fault(Behaviour("parallel", tokens=4), PASS_ALL),
    "parallel-bad-second": Fault(
        Behaviour("parallel_bad", tokens=4), {**PASS_ALL, "tools": "fail"}, probes(needs_tool="malformed_arguments")
    ),
    "parallel-unoffered": Fault(Behaviour("parallel_unoffered", tokens=4), {**PASS_ALL, "tools": "fail"}, probes(needs_tool="wrong_tool")),
    "nan-args": Fault(Behaviour("nan_args", tokens=4), {**PASS_ALL, "tools": "fail"}, probes(needs_tool="malformed_arguments")),
    "no-id": Fault(Behaviour("no_id", tokens=4), {**PASS_ALL, "tools": "fail"}, probes(needs_tool="malformed_call")),
    "dict-in-text": Fault(Behaviour("dict_in_text", tokens=4), {**PASS_ALL, "tools": "fail"}, probes("tool_call_in_content")),
    "funcall-in-text": Fault(Behaviour("funcall_in_text", tokens=4), {**PASS_ALL, "tools": "fail"}, probes("tool_call_in_content")),
    "think-mentions-calls": Fault(Behaviour("think_mentions", tokens=4), PASS_ALL),
    "reasoning-visible-late": Fault(
        Behaviour("ok", tokens=4, reasoning_ms=1500),
        {**PASS_ALL, "latency": "fail"},
        fields={"slo": {"ttft_p95_ms": 1000, "e2e_p95_ms": 10000}},
        words="first visible output",
    ),
    "reasoning-any-token-slo": Fault(
        Behaviour("ok", tokens=4, reasoning_ms=1500),
        PASS_ALL,
        fields={"slo": {"ttft_p95_ms": 1000, "e2e_p95_ms": 10000, "ttft_counts": "any"}},
    ),
    "empty": Fault(Behaviour("empty"), DOWN, probes("empty_answer"), words="empty answer"),
    "finish-mismatch": Fault(Behaviour("finish_mismatch", tokens=4), DOWN, probes("finish_mismatch"), words="contradicts"),
    "after-done": Fault(Behaviour("after_done", tokens=4), PASS_ALL),
    "bad-utf8": Fault(Behaviour("bad_utf8", tokens=4), DOWN, probes("error"), words="invalid UTF-8"),
    "hostile-error": Fault(Behaviour("hostile_error"), DOWN, probes("error"), words="HTTP 500"),
    "hostile-text": Fault(Behaviour("hostile_text", tokens=4), PASS_ALL),
    "list-content": Fault(Behaviour("list_content", tokens=4), PASS_ALL),
    "truncated-mid-answer": Fault(
        Behaviour("truncated", tokens=8),
        DOWN,
        probes(**{k: "stream_mismatch" for k in ("lookup__stream", "choose__stream", "no_tool__stream")}),
    ),
    "cold-longer-than-stall": Fault(Behaviour("ok", tokens=4, cold_ms=6000), PASS_ALL),
    "cold-longer-than-cold-timeout": Fault(
        Behaviour("ok", tokens=4, cold_ms=60_000), DOWN, probes("ok"), words=f"no first byte within {COLD_S:g} s"
    ),
}
