"""Post-deploy checks of an llmfleet fleet, over HTTP only (httpx; never pyinfra).

``llmfleet check`` / ``llmfleet health`` (:mod:`checks.cli`) run :func:`checks.runner.run_checks`:
gateway liveness/readiness/auth/models (:mod:`checks.gateway`), each model's backend straight
(:mod:`checks.backends`), and through the gateway the first (cold) answer, the tool-calling probe
(:mod:`checks.toolcall`) and warm streamed latency (:mod:`checks.latency`). Results are the
pydantic models of :mod:`checks.results` (the JSON schema), written by :mod:`checks.report`.
"""

from checks.context import Options
from checks.http import Timeouts
from checks.results import CheckResult, Report
from checks.runner import run_checks
from checks.targets import CannotRun

__all__ = ["CannotRun", "CheckResult", "Options", "Report", "Timeouts", "run_checks"]
