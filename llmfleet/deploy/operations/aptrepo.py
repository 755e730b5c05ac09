"""Apt signing keys fetched over HTTPS and accepted only with the expected fingerprint."""

from __future__ import annotations

import os
import shlex

from pyinfra import host
from pyinfra.api import StringCommand, operation

from llmfleet.deploy.facts.keys import KeyringFingerprints

_FETCH = "import sys, urllib.request; open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1], timeout=60).read())"


@operation()
def signing_key(url: str, dest: str, fingerprint: str):
    """Install the apt signing key at ``url`` as ``dest`` if its fingerprint is ``fingerprint``.

    The key is downloaded to a temporary file, its fingerprint checked with gpg, and only then
    installed (mode 0644). Use ``.asc`` for armored keys and ``.gpg`` for binary ones (apt's rule).
    """
    fingerprint = fingerprint.replace(" ", "").upper()
    if fingerprint in host.get_fact(KeyringFingerprints, path=dest):
        host.noop(f"{dest} holds the key {fingerprint}")
        return
    script = (
        "set -e; tmp=$(mktemp); trap 'rm -f \"$tmp\"' EXIT; "
        f'python3 -c {shlex.quote(_FETCH)} {shlex.quote(url)} "$tmp"; '
        'fpr=$(gpg --show-keys --with-colons "$tmp" | awk -F: \'$1 == "fpr" {print $10}\'); '
        f'echo "$fpr" | grep -qx {fingerprint} || '
        f"{{ echo {shlex.quote(f'error: the key at {url} does not have the fingerprint {fingerprint}')} >&2; exit 1; }}; "
        f'install -D -m 0644 "$tmp" {shlex.quote(dest)}'
    )
    yield StringCommand(script)


def source_line(url: str, suite: str, components: str, keyring: str, arch: str) -> str:
    """One ``deb [arch=… signed-by=…] URL SUITE COMPONENTS`` line."""
    return f"deb [arch={arch} signed-by={keyring}] {url} {suite} {components}".rstrip() + "\n"


def list_path(name: str) -> str:
    """Where the ``.list`` file of repository ``name`` goes."""
    return os.path.join("/etc/apt/sources.list.d", f"{name}.list")
