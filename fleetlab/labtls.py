"""The lab's certificate authority, and the TLS certificate of the Headscale server it signs.

A real fleet serves Headscale's ``server_url`` with a certificate its nodes trust (a public CA or
the operator's own). The lab has no public CA and no DNS, so it does what an operator with a
private CA does: it makes a CA (``openssl``, cached per lab working directory), signs a
certificate for the ``server_url`` host name, and on every booted host

* installs the CA certificate as ``/usr/local/share/ca-certificates/llmfleet-lab-ca.crt`` and runs
  ``update-ca-certificates`` (or, where the ``ca-certificates`` package is not installed yet, links
  it into ``/etc/ssl/certs/`` the way that script does; the package's own run picks it up later);
* names the Headscale host's lab address for the ``server_url`` host in ``/etc/hosts``;

and on the Headscale host only it places the certificate and key where the inventory's
``mesh.tls`` says (root-owned, the key 0600). The CA key never leaves the machine.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from llmfleet.inventory.model import Inventory

__all__ = ["CA_NAME", "LabTls", "install_commands", "make_lab_tls"]

CA_NAME = "llmfleet-lab-ca"
DAYS = 30


@dataclass(frozen=True)
class LabTls:
    """The lab CA and the Headscale server certificate (PEM files on the machine)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    server_name: str


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.strip()[-400:]}")


def make_lab_tls(workdir: Path, inv: Inventory) -> LabTls | None:
    """Create (once per working directory) the lab CA and a certificate for ``mesh.server_url``'s host."""
    if inv.mesh is None:
        return None
    name = urlsplit(inv.mesh.server_url).hostname or ""
    d = Path(workdir) / "tls"
    d.mkdir(parents=True, exist_ok=True)
    tls = LabTls(d / f"{CA_NAME}.crt", d / "server.crt", d / "server.key", name)
    ca_key = d / f"{CA_NAME}.key"
    if not (tls.ca_cert.is_file() and ca_key.is_file()):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key),
                 "-out", str(tls.ca_cert), "-days", str(DAYS), "-subj", "/CN=llmfleet lab CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
        ca_key.chmod(0o600)
    marker = d / "server.name"
    if not (tls.server_cert.is_file() and tls.server_key.is_file() and marker.is_file() and marker.read_text() == name):
        csr = d / "server.csr"
        ext = d / "server.ext"
        ext.write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tls.server_key),
                 "-out", str(csr), "-subj", f"/CN={name}")  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(tls.ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
                 "-out", str(tls.server_cert), "-days", str(DAYS), "-extfile", str(ext))  # fmt: skip
        tls.server_key.chmod(0o600)
        marker.write_text(name)
    return tls


def _put(path: str, content: str, mode: str) -> str:
    """A shell command writing ``content`` to ``path`` (root-owned, ``mode``), directories made."""
    return (
        f"install -d -m 0755 {shlex.quote(str(Path(path).parent))} && "
        f"umask 077 && printf %s {shlex.quote(content)} > {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}"
    )


def install_commands(tls: LabTls, inv: Inventory, host: str, headscale_address: str) -> str:
    """The shell command that sets up ``host`` as its operator would (see the module doc)."""
    assert inv.mesh is not None
    ca = tls.ca_cert.read_text()
    local = f"/usr/local/share/ca-certificates/{CA_NAME}.crt"
    steps = [
        _put(local, ca, "0644"),
        "if command -v update-ca-certificates >/dev/null; then update-ca-certificates >/dev/null; "
        f"else install -d /etc/ssl/certs && ln -sf {local} /etc/ssl/certs/{CA_NAME}.pem; fi",
        f"grep -q ' {tls.server_name}$' /etc/hosts || echo '{headscale_address} {tls.server_name}' >> /etc/hosts",
    ]
    if host == inv.mesh.headscale_host and inv.mesh.tls is not None:
        steps.append(_put(inv.mesh.tls.cert_path, tls.server_cert.read_text(), "0644"))
        steps.append(_put(inv.mesh.tls.key_path, tls.server_key.read_text(), "0600"))
    return " && ".join(f"( {s} )" for s in steps)
