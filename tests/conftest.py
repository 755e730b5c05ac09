"""Suite-wide test settings.

With LLMFLEET_REQUIRE_REAL=1 (set by `make test`) a test marked `real` or `lab` that skips
because a real program, root or the lab tools are missing FAILS instead: CI must never go green
without the real programs and the booted lab hosts.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("LLMFLEET_REQUIRE_REAL") == "1" and report.skipped and _needs_real_parts(item):
        report.outcome = "failed"
        report.longrepr = f"real-program/lab test skipped under LLMFLEET_REQUIRE_REAL=1: {report.longrepr}"


def _needs_real_parts(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(m) is not None for m in ("real", "lab"))
