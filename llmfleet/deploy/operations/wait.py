"""Bounded waits for services to answer, decided by a fact (no-op when they already answer)."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from llmfleet.deploy.facts.http import HttpStatus
from llmfleet.layout import WAIT_HELPER


@operation()
def http_ready(url: str, what: str, timeout: int = 120):
    """Wait until ``url`` answers 200 on the host, at most ``timeout`` seconds; fail after that."""
    if host.get_fact(HttpStatus, url=url) == 200:
        host.noop(f"{what} answers at {url}")
        return
    yield StringCommand("python3", WAIT_HELPER, QuoteString(url), "--timeout", str(int(timeout)), "--what", QuoteString(what))
