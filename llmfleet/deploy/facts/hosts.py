"""Facts about name resolution on the host."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class ResolvedAddresses(FactBase[list[str]]):
    """Addresses ``hostname`` resolves to on the host (``getent hosts``); empty when it does not resolve."""

    default = list

    def command(self, hostname: str) -> str:
        return f"getent hosts {shlex.quote(hostname)} || true"

    def process(self, output: list[str]) -> list[str]:
        return [line.split()[0] for line in output if line.split()]
