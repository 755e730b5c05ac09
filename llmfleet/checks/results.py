"""Result models of ``llmfleet check`` / ``llmfleet health``: these classes ARE the JSON schema.

``llmfleet check --json FILE`` writes one :class:`Report`. Its JSON Schema is generated from these
models (``python -m llmfleet.checks.schema`` writes it) and committed as ``checks/report.schema.json``;
a test keeps the two identical. ``checks/README.md`` explains every field for humans.

Vocabulary (stable, used by every writer):

* a **check** is one verdict about one **subject**: the gateway, one model (backend-side
  checks are reported under the model they serve), or (``health --docker``) one gateway
  container as ``<host>/<container>`` and each gateway host's Docker engine as ``<host>``;
* a check's ``status`` is ``pass``, ``fail``, ``warn`` (reported, does not fail the run: e.g. an
  ``optional`` tool-calling model whose probe failed) or ``skip`` (not applicable / not reachable
  from here, with the reason);
* the run's ``outcome`` is ``pass`` (exit 0), ``fail`` (exit 1: a check failed) or
  ``cannot_run`` (exit 2: bad inventory, gateway unreachable, bad or missing key).

Secrets never appear here: every string coming from the network is redacted before it is stored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"

Status = Literal["pass", "fail", "warn", "skip"]
Outcome = Literal["pass", "fail", "cannot_run"]
SubjectKind = Literal["gateway", "model", "container"]
CheckName = Literal[
    "liveness",
    "readiness",
    "auth",
    "models",
    "backend",
    "answer",
    "tools",
    "latency",
    "overhead",
    "container_engine",
    "container_running",
    "container_healthy",
    "container_image_pinned",
    "container_restarts",
]

#: Tool-probe outcomes. ``ok`` is the only passing one.
ToolOutcome = Literal[
    "ok",
    "no_tool_call",
    "wrong_tool",
    "malformed_arguments",
    "tool_call_in_content",
    "stream_mismatch",
    "unexpected_tool_call",
    "malformed_call",
    "empty_answer",
    "finish_mismatch",
    "error",
]
TOOL_OUTCOMES: tuple[str, ...] = ToolOutcome.__args__  # type: ignore[attr-defined]

EXIT_CODES: dict[str, int] = {"pass": 0, "fail": 1, "cannot_run": 2}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolProbeResult(_Model):
    """One tool-calling probe: one scenario, streamed or not, classified."""

    scenario: Literal["lookup", "choose", "no_tool"] = Field(
        description="`lookup`: one tool with enum and number arguments; `choose`: two tools, the question needs "
        "`convert_currency`; `no_tool`: two tools offered, the question needs none (catches over-calling)."
    )
    stream: bool = Field(description="True for the streamed variant of the request.")
    tool_choice: str = Field(description="The tool_choice sent: `auto`, `required` or `named`.")
    outcome: ToolOutcome = Field(description="The classification; only `ok` passes.")
    detail: str = Field(description="Why this outcome, in one line (upstream message for `error`).")
    expected_tool: str | None = Field(default=None, description="The tool the scenario needs (null for `no_tool`).")
    called_tool: str | None = Field(default=None, description="The tool the model called, if any.")
    arguments: str | None = Field(default=None, description="The raw arguments string (truncated to 300 characters).")
    arguments_as_asked: bool | None = Field(
        default=None, description="For a valid call: do the argument values match the question (informational)."
    )
    content: str | None = Field(default=None, description="Text content that came back (truncated to 300 characters).")
    finish_reason: str | None = Field(default=None, description="finish_reason of the choice, as sent.")
    http_status: int | None = Field(default=None, description="HTTP status of the response (null on timeout/connect error).")
    capped: str | None = Field(default=None, description="A size cap that was hit (the rest of the answer was not judged), if any.")
    duration_ms: float = Field(description="Wall time of the request in ms.")


class Sample(_Model):
    """One timed request. Times are taken with ``perf_counter_ns`` when the bytes arrive, before parsing."""

    ok: bool = Field(description="The request succeeded (HTTP 200, complete stream).")
    error: str | None = Field(default=None, description="Why it failed (HTTP status and upstream message, or timeout).")
    http_status: int | None = None
    ttft_ms: float | None = Field(
        default=None,
        description="Time to first visible output: request sent → first chunk with non-empty content or a tool-call delta "
        "(a reasoning model's thinking does not count).",
    )
    ttft_any_ms: float | None = Field(
        default=None,
        description="Time to first token of any kind: request sent → first chunk with content, a tool-call delta or "
        "reasoning (`reasoning_content`/`reasoning`). Equal to `ttft_ms` for a model that does not reason.",
    )
    tpot_ms: float | None = Field(default=None, description="(last token time − first token time) / (output tokens − 1).")
    e2e_ms: float | None = Field(default=None, description="Request sent → end of the response.")
    output_tokens: int | None = Field(default=None, description="usage.completion_tokens when reported, else content chunks.")
    tokens_per_s: float | None = Field(default=None, description="output_tokens / e2e (whole request, TTFT included).")
    capped: str | None = Field(default=None, description="A size cap that was hit (the rest of the answer was not kept), if any.")


class Quantiles(_Model):
    """p50 and p95 (nearest-rank) of one measure over the warm samples."""

    p50: float
    p95: float
    max: float
    n: int


class LatencyStats(_Model):
    """Warm latency of one model (after the cold request and the warm-up)."""

    target: Literal["gateway", "backend"] = Field(description="Measured through the gateway or straight against the backend.")
    samples: int = Field(description="Requested sample count.")
    ok_samples: int = Field(description="Samples that succeeded.")
    ttft_ms: Quantiles | None = Field(default=None, description="Time to first visible output (see Sample.ttft_ms).")
    ttft_any_ms: Quantiles | None = Field(default=None, description="Time to first token of any kind (see Sample.ttft_any_ms).")
    tpot_ms: Quantiles | None = None
    e2e_ms: Quantiles | None = None
    tokens_per_s: Quantiles | None = None
    errors: list[str] = Field(default_factory=list, description="Distinct errors of failed samples.")
    slo_ttft_p95_ms: int | None = Field(default=None, description="The inventory's objective, if any.")
    slo_ttft_counts: Literal["visible", "any"] | None = Field(
        default=None,
        description="Which TTFT the objective judges (the inventory's `slo.ttft_counts`): `visible` → `ttft_ms`, `any` → `ttft_any_ms`.",
    )
    slo_e2e_p95_ms: int | None = None
    slo_met: bool | None = Field(default=None, description="Both objectives met (null: no SLO in the inventory).")

    def judged_ttft(self) -> Quantiles | None:
        """The TTFT quantiles the objective judges (``slo_ttft_counts``; visible output by default)."""
        return self.ttft_any_ms if self.slo_ttft_counts == "any" else self.ttft_ms


class ModelsDiff(_Model):
    """`/v1/models` compared with the inventory's public names (models and groups)."""

    expected: list[str]
    served: list[str]
    missing: list[str] = Field(description="In the inventory, not served by the gateway.")
    extra: list[str] = Field(description="Served by the gateway, not in the inventory.")


class Overhead(_Model):
    """Gateway overhead: gateway p50 minus backend p50, same request."""

    ttft_p50_ms: float | None = None
    e2e_p50_ms: float | None = None


class CheckResult(_Model):
    """One verdict about one subject."""

    kind: SubjectKind = Field(description="`gateway`, `model` or `container`.")
    subject: str = Field(description="`gateway`, the model's public name, or for `container`: `<host>/<container>` (the engine: `<host>`).")
    check: CheckName = Field(
        description="gateway: liveness, readiness, auth, models. model: backend (straight to the backend), "
        "answer (first request, cold), tools, latency (warm), overhead (gateway vs backend). "
        "container (`health --docker`): container_engine (the host's Docker engine answered; skip when not asked or "
        "not a compose gateway), container_running, container_healthy, container_image_pinned, container_restarts."
    )
    status: Status
    message: str = Field(description="One line naming the subject and the check, for the person on call.")
    duration_ms: float | None = Field(default=None, description="Time this check took.")
    http_status: int | None = None
    cold: Sample | None = Field(default=None, description="`answer`: the first request, timed on its own.")
    tool_probes: list[ToolProbeResult] | None = Field(default=None, description="`tools`: every probe.")
    latency: LatencyStats | None = Field(default=None, description="`latency` (gateway) / `overhead` (backend).")
    overhead: Overhead | None = Field(default=None, description="`overhead`: gateway minus backend.")
    models_diff: ModelsDiff | None = Field(default=None, description="`models`: the comparison.")
    facts: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Small extra facts (e.g. backend placement, template tool support)."
    )


class Summary(_Model):
    """Counts of check statuses."""

    passed: int = 0
    failed: int = 0
    warned: int = 0
    skipped: int = 0


class Report(_Model):
    """The whole result of one ``llmfleet check`` or ``llmfleet health`` run."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    command: Literal["check", "health"]
    fleet: str | None = Field(description="Fleet name from the inventory (null if it could not be loaded).")
    inventory: str = Field(description="Path of the inventory file.")
    gateway_url: str | None
    started_at: datetime
    duration_s: float
    outcome: Outcome
    exit_code: int = Field(description="0 pass, 1 a check failed, 2 could not run.")
    reason: str | None = Field(default=None, description="Why the run could not run (outcome cannot_run).")
    options: dict[str, str | int | float | bool | None] = Field(default_factory=dict, description="Options of the run.")
    summary: Summary = Field(default_factory=Summary)
    results: list[CheckResult] = Field(default_factory=list)

    def failed(self) -> list[CheckResult]:
        """The checks with status ``fail``."""
        return [r for r in self.results if r.status == "fail"]


def summarize(results: list[CheckResult]) -> Summary:
    """Count statuses."""
    s = Summary()
    for r in results:
        if r.status == "pass":
            s.passed += 1
        elif r.status == "fail":
            s.failed += 1
        elif r.status == "warn":
            s.warned += 1
        else:
            s.skipped += 1
    return s


def report_json_schema() -> dict:
    """The JSON Schema of :class:`Report` (what ``--json`` writes)."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://llmfleet.dev/schema/check-report.json"
    return schema


def report_json_schema_text() -> str:
    """The schema as the committed ``checks/report.schema.json`` text."""
    return json.dumps(report_json_schema(), indent=2, sort_keys=True) + "\n"
