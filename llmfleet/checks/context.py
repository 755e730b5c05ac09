"""The state one run shares between its checks: client, URLs, key, options, and result helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import httpx

from llmfleet.checks.http import Timeouts
from llmfleet.checks.results import CheckName, CheckResult, Status
from llmfleet.checks.toolcall import ToolChoice
from llmfleet.inventory.model import Inventory

Command = Literal["check", "health"]


@dataclass
class Options:
    """Everything a run can be told (CLI flags map 1:1 onto these)."""

    command: Command = "check"
    models: list[str] | None = None
    gateway: str | None = None
    samples: int = 10
    warmup: int = 2
    concurrency: int = 8
    max_tokens: int = 32
    tool_choice: ToolChoice = "auto"
    tools: bool = True
    latency: bool = True
    direct: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    global_timeout: float = 900.0
    #: ``health --docker``: Docker engines to read container state from, each ``URL`` or ``HOST=URL``.
    docker: list[str] | None = None

    def as_facts(self) -> dict[str, str | int | float | bool | None]:
        """The options as flat JSON facts for the report."""
        return {
            "command": self.command,
            "models": ",".join(self.models) if self.models else None,
            "samples": self.samples,
            "warmup": self.warmup,
            "concurrency": self.concurrency,
            "max_tokens": self.max_tokens,
            "tool_choice": self.tool_choice,
            "tools": self.tools,
            "latency": self.latency,
            "direct": self.direct,
            "connect_timeout_s": self.timeouts.connect,
            "stall_timeout_s": self.timeouts.stall,
            "request_timeout_s": self.timeouts.total,
            "cold_timeout_s": self.timeouts.cold_total,
            "global_timeout_s": self.global_timeout,
            "docker": ",".join(self.docker) if self.docker else None,
        }


@dataclass
class Ctx:
    """Per-run context handed to every check."""

    inventory: Inventory
    gateway_url: str
    master_key: str
    options: Options
    client: httpx.AsyncClient

    @property
    def timeouts(self) -> Timeouts:
        """The per-request bounds."""
        return self.options.timeouts

    def auth(self) -> dict[str, str]:
        """The gateway's authorization header (never logged)."""
        return {"authorization": f"Bearer {self.master_key}"}

    def url(self, path: str) -> str:
        """A gateway URL."""
        return self.gateway_url.rstrip("/") + path


class Timer:
    """Measures a check's duration in ms."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def ms(self) -> float:
        """Elapsed ms."""
        return (time.perf_counter() - self.t0) * 1000


def gateway_result(
    check: CheckName, status: Status, message: str, timer: Timer | None = None, duration_ms: float | None = None, **kw: object
) -> CheckResult:
    """A gateway check result; the message is prefixed with the subject and the check."""
    return CheckResult(
        kind="gateway",
        subject="gateway",
        check=check,
        status=status,  # type: ignore[arg-type]
        message=f"gateway {check}: {message}",
        duration_ms=timer.ms() if timer else duration_ms,
        **kw,
    )


def model_result(
    model: str, check: CheckName, status: Status, message: str, timer: Timer | None = None, duration_ms: float | None = None, **kw: object
) -> CheckResult:
    """A model check result; the message is prefixed with the model and the check."""
    return CheckResult(
        kind="model",
        subject=model,
        check=check,
        status=status,  # type: ignore[arg-type]
        message=f"{model} {check}: {message}",
        duration_ms=timer.ms() if timer else duration_ms,
        **kw,
    )
