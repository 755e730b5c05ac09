"""Guards: fail a deploy early, with a clear sentence, when it must not go on."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.files import File

from llmfleet.deploy.operations.util import fail


@operation()
def file_present(path: str, message: str):
    """No-op when ``path`` exists; otherwise fail with ``message`` (e.g. an unpinned binary)."""
    if host.get_fact(File, path=path):
        host.noop(f"{path} exists")
        return
    yield fail(message)
