"""Fixtures of the testinfra host tests, run from the repository (the code is :mod:`llmfleet.checks.testinfra`)."""

from llmfleet.checks.testinfra.conftest import *  # noqa: F403
