"""STAND-INs for programs the lab machines cannot have, and their packaging as mirror artifacts.

Each stand-in is a single-file Python 3 script (standard library only) whose docstring says what
real program it replaces and which behaviours it reproduces:

* :mod:`~fleetlab.standins.ollama` — Ollama (server API + CLI; canned answers, no model);
* :mod:`~fleetlab.standins.headscale` — Headscale (config + ACL validation, users, single-use
  pre-auth keys, nodes; no control protocol);
* :mod:`~fleetlab.standins.tailscale` — ``tailscale`` + ``tailscaled`` (login with a key
  validated by the Headscale stand-in, status/ip; no WireGuard: the lab provides the mesh at L3);
* :mod:`~fleetlab.standins.nvidia_smi` — ``nvidia-smi`` ("No devices were found", exit 6).

The Headscale and Tailscale stand-ins share their HTTP/state/flag plumbing through
:mod:`~fleetlab.standins._common`; :func:`script` inlines it where a stand-in imports it, so
every shipped script is still one file.

The ``package_*`` functions write them in the shape of the real release artifacts, with
deterministic bytes (fixed mtime, uid/gid 0, sorted entries, gzip without timestamp), so their
SHA-256 only changes when the script or the version changes. The version is written into the
script (``VERSION = "..."``) so ``--version`` reports what the inventory pinned.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

__all__ = [
    "deterministic_targz",
    "package_headscale",
    "package_nvidia_smi",
    "package_ollama",
    "package_tailscale",
    "script",
]

HERE = Path(__file__).resolve().parent
#: Fixed mtime of every archive member (2024-01-01T00:00:00Z).
MTIME = 1704067200

TAILSCALED_SERVICE = """\
# llmfleet lab STAND-IN: the unit shipped in Tailscale's static release archive, unchanged in shape.
[Unit]
Description=Tailscale node agent (llmfleet lab STAND-IN)
Documentation=https://tailscale.com/kb/
Wants=network-pre.target
After=network-pre.target NetworkManager.service systemd-resolved.service

[Service]
EnvironmentFile=/etc/default/tailscaled
ExecStart=/usr/sbin/tailscaled --state=/var/lib/tailscale/tailscaled.state --socket=/run/tailscale/tailscaled.sock --port=${PORT} $FLAGS
ExecStopPost=/usr/sbin/tailscaled --cleanup

Restart=on-failure

RuntimeDirectory=tailscale
RuntimeDirectoryMode=0755
StateDirectory=tailscale
StateDirectoryMode=0700
CacheDirectory=tailscale
CacheDirectoryMode=0750
Type=notify

[Install]
WantedBy=multi-user.target
"""

TAILSCALED_DEFAULTS = """\
# Set the port to listen on for incoming VPN packets.
# Remote nodes will automatically be informed about the new port number,
# but you might want to configure this in order to set external firewall
# settings.
PORT="41641"

# Extra flags you might want to pass to tailscaled.
FLAGS=""
"""


#: A stand-in's import of the shared plumbing (one line, or a parenthesized block).
_COMMON_IMPORT = re.compile(r"^from fleetlab\.standins\._common import (?:\([^)]*\)|[^\n]*)\n", re.M)


def _common_code() -> str:
    """``_common.py`` without its docstring and ``__future__`` import, marked where it starts and ends."""
    body = (HERE / "_common.py").read_text().split("from __future__ import annotations\n", 1)[1].strip()
    return f"# ----- shared stand-in plumbing, inlined from fleetlab/standins/_common.py -----\n{body}\n# ----- end of _common.py -----\n"


def script(module: str, version: str | None = None) -> bytes:
    """The stand-in script ``module`` (e.g. ``"ollama"``) as shipped: one file, ``VERSION`` set to ``version``."""
    text = (HERE / f"{module}.py").read_text()
    text = _COMMON_IMPORT.sub(lambda _: _common_code(), text, count=1)
    if version is not None:
        text, n = re.subn(r'^VERSION = "[^"]*"$', f'VERSION = "{version}"', text, count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"stand-in {module} has no VERSION line")
    return text.encode()


def deterministic_targz(out: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    """Write a .tar.gz of ``{member path: (content, mode)}`` whose bytes depend on the content only."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = sorted({str(Path(p).parents[i]) for p in files for i in range(len(Path(p).parents) - 1)})
        for d in dirs:
            info = tarfile.TarInfo(d + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info)
        for path in sorted(files):
            content, mode = files[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), mode, MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out


def package_ollama(out: Path, version: str) -> Path:
    """``ollama-linux-amd64.tgz`` shape: ``bin/ollama`` (plus a STAND-IN notice)."""
    notice = b"llmfleet lab STAND-IN for Ollama: not Ollama, runs no model. See bin/ollama's header.\n"
    return deterministic_targz(out, {"bin/ollama": (script("ollama", version), 0o755), "STANDIN.txt": (notice, 0o644)})


def package_headscale(out: Path, version: str) -> Path:
    """Headscale's release shape: one bare executable."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(script("headscale", version))
    out.chmod(0o755)
    return out


def package_tailscale(out: Path, version: str) -> Path:
    """``tailscale_<v>_amd64.tgz`` shape: ``tailscale_<v>_amd64/{tailscale,tailscaled,systemd/...}``."""
    top = f"tailscale_{version}_amd64"
    body = script("tailscale", version)
    files = {
        f"{top}/tailscale": (body, 0o755),
        f"{top}/tailscaled": (body, 0o755),
        f"{top}/systemd/tailscaled.service": (TAILSCALED_SERVICE.encode(), 0o644),
        f"{top}/systemd/tailscaled.defaults": (TAILSCALED_DEFAULTS.encode(), 0o644),
        f"{top}/STANDIN.txt": (b"llmfleet lab STAND-IN for Tailscale: no WireGuard; see the scripts' header.\n", 0o644),
    }
    return deterministic_targz(out, files)


def package_nvidia_smi(out: Path) -> Path:
    """``nvidia-smi`` in a tarball (flat)."""
    return deterministic_targz(out, {"nvidia-smi": (script("nvidia_smi"), 0o755)})
