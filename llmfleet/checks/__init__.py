"""Post-deploy checks of an llmfleet fleet, over HTTP only (httpx; never pyinfra).

``llmfleet check`` / ``llmfleet health`` (:mod:`llmfleet.checks.cli`) run :func:`llmfleet.checks.runner.run_checks`:
gateway liveness/readiness/auth/models (:mod:`llmfleet.checks.gateway`), each model's backend straight
(:mod:`llmfleet.checks.backends`), and through the gateway the first (cold) answer, the tool-calling probe
(:mod:`llmfleet.checks.toolcall`) and warm streamed latency (:mod:`llmfleet.checks.latency`). Results are the
pydantic models of :mod:`llmfleet.checks.results` (the JSON schema), written by :mod:`llmfleet.checks.report`.
"""

from llmfleet.checks.context import Options
from llmfleet.checks.http import Timeouts
from llmfleet.checks.results import CheckResult, Report
from llmfleet.checks.runner import run_checks
from llmfleet.checks.targets import CannotRun

__all__ = ["CannotRun", "CheckResult", "Options", "Report", "Timeouts", "run_checks"]
