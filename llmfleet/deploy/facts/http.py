"""Facts from an HTTP probe made on the host itself (so it sees what the host sees: mesh, loopback)."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase

_PROBE = (
    "import sys, urllib.request\n"
    "try:\n"
    "    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)\n"
    "except urllib.error.HTTPError as e:\n"
    "    print(e.code)\n"
    "except Exception:\n"
    "    print(0)\n"
)


class HttpStatus(FactBase[int]):
    """The HTTP status ``url`` answers with from the host (0: no answer)."""

    @staticmethod
    def default() -> int:
        return 0

    def requires_command(self, url: str) -> str:
        return "python3"

    def command(self, url: str) -> str:
        return f"python3 -c {shlex.quote(_PROBE)} {shlex.quote(url)} || true"

    def process(self, output: list[str]) -> int:
        try:
            return int(output[-1].strip())
        except (ValueError, IndexError):
            return 0
