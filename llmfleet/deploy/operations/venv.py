"""A Python venv with pinned requirements (pyinfra's ``pip.packages`` drops extras like ``[proxy]``)."""

from __future__ import annotations

from collections.abc import Iterable

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import FileContents

#: Inside the venv: the requirements it was built with, one per line, sorted.
MARKER = ".llmfleet-requirements"


def marker_text(requirements: Iterable[str]) -> str:
    """The marker content for ``requirements`` (order-independent)."""
    return "\n".join(sorted(requirements))


@operation()
def installed(path: str, requirements: Iterable[str], python: str = "python3", install_args: Iterable[str] | None = None):
    """Create the venv at ``path`` and install exactly ``requirements`` (pinned, ``name[extra]==x.y.z``).

    ``install_args`` replaces the requirements on pip's command line (e.g. an air-gapped,
    hash-checked ``--no-index --require-hashes --find-links URL -r URL``); the requirements
    still name what the venv holds. No-op when the venv was built the same way. The marker is
    written only after pip succeeded.
    """
    args = list(install_args) if install_args is not None else sorted(requirements)
    wanted = marker_text([*requirements, *(["# " + " ".join(args)] if install_args is not None else [])])
    current = host.get_fact(FileContents, path=f"{path}/{MARKER}")
    if current is not None and "\n".join(line.strip() for line in current) == wanted:
        host.noop(f"{path} has {', '.join(sorted(requirements))}")
        return
    venv = QuoteString(path)
    yield StringCommand("test", "-x", f"{path}/bin/python", "||", python, "-m", "venv", venv)
    yield StringCommand(
        f"{path}/bin/python",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        *[QuoteString(a) for a in args],
    )
    yield StringCommand("printf", "'%s\\n'", QuoteString(wanted), ">", QuoteString(f"{path}/{MARKER}"))
