"""The host's own names: ``localhost`` must resolve (LiteLLM's start-up looks it up)."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from llmfleet.deploy.facts.hosts import ResolvedAddresses


@operation()
def localhost_resolves():
    """Add ``127.0.0.1 localhost`` to /etc/hosts unless ``localhost`` already resolves (as on any
    normally installed server; a minimal image may lack the entry)."""
    if host.get_fact(ResolvedAddresses, hostname="localhost"):
        host.noop("localhost resolves")
        return
    yield "printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' >> /etc/hosts"
