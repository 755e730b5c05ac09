"""Facts about apt signing keys: the fingerprints in a keyring file."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class KeyringFingerprints(FactBase[list[str]]):
    """Fingerprints of the keys in the keyring file ``path`` (empty when missing or unreadable)."""

    default = list

    def requires_command(self, path: str) -> str:
        return "gpg"

    def command(self, path: str) -> str:
        quoted = shlex.quote(path)
        return f"test -f {quoted} && gpg --show-keys --with-colons {quoted} 2>/dev/null | awk -F: '$1 == \"fpr\" {{print $10}}' || true"

    def process(self, output: list[str]) -> list[str]:
        return [line.strip().upper() for line in output if line.strip()]
