"""Suite-wide test settings.

With LLMFLEET_REQUIRE_REAL=1 (set by `make test`) a test marked `real` that skips because a
real program is missing FAILS instead: CI must never go green without the real programs.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("LLMFLEET_REQUIRE_REAL") == "1" and report.skipped and item.get_closest_marker("real") is not None:
        report.outcome = "failed"
        report.longrepr = f"real-program test skipped under LLMFLEET_REQUIRE_REAL=1: {report.longrepr}"
