"""STAND-IN for the internet: the cloud providers' APIs a seed's cloud models call, served on the lab machine.

The lab has no internet, so no cloud provider can be reached. A lab overlay that points a cloud
model's ``api_base`` at the lab machine's address (the mirror's IP, e.g. ``http://10.231.0.1:18441``)
gets there one **real** ``llama-server`` (the lab's CPU build, the tiny random-weight GGUF) per model,
speaking the provider's API as llama.cpp implements it:

* ``anthropic``: the Messages API (``POST /v1/messages``; the key is checked from ``x-api-key``);
* ``openai``: chat completions (``POST /v1/chat/completions``; the key from ``Authorization: Bearer``).

Each request gets the model's declared ``context_window`` (capped at the tiny model's 8,192), and a
larger prompt is refused by the server, as the provider would refuse it.

The gateways run LiteLLM's real ``anthropic/`` and ``openai/`` providers against them; only the far end
is not the provider. Each server checks the key the gateway sends (the lab's value of the model's
``api_key`` variable, handed over in a 0600 file, never on a command line), and logs every request it
serves (:func:`served`), so a test can count what reached each deployment. One server per model: a
group's members are counted apart, and stopping one (:func:`stop`) is that provider model's outage.

The servers are lab processes in the lab's ledger: ``lab_down`` stops them with the hosts.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fleetlab import daemons
from fleetlab.ledger import Ledger
from llmfleet.inventory.model import Inventory

__all__ = ["PROVIDER_APIS", "StandIn", "served", "service_ports", "standins", "start", "stop"]

#: Provider → the API path its stand-in serves (llama-server implements both).
PROVIDER_APIS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}
#: The tiny model's training context: llama-server caps a slot's context there.
TINY_CTX = 8192
#: Request slots per stand-in server.
SLOTS = 2
GGUF = "tiny-chatml.gguf"
#: One line per completion a llama-server runs (its own log; 0.3.36's wording).
SERVED_MARK = "launch_slot_"
READY_TIMEOUT = 60.0


class StandInError(RuntimeError):
    """A stand-in cannot start; the message says why."""


@dataclass(frozen=True)
class StandIn:
    """The stand-in server of one cloud model."""

    model: str
    provider: str
    upstream: str
    ip: str
    port: int
    key_env: str | None
    context_window: int | None = None

    @property
    def slot_ctx(self) -> int:
        """The context one request gets: the model's declared window, as the provider enforces it
        (capped at the tiny model's training context)."""
        return min(self.context_window or TINY_CTX, TINY_CTX)

    @property
    def process(self) -> str:
        """Its name in the lab's ledger."""
        return f"cloud-standin:{self.model}"


def _lab_ip(inv: Inventory) -> str | None:
    return urlsplit(inv.artifacts.mirror).hostname if inv.artifacts.mirror else None


def standins(inv: Inventory) -> list[StandIn]:
    """The cloud models of ``inv`` whose ``api_base`` is on the lab machine (the mirror's address)."""
    lab_ip = _lab_ip(inv)
    out = []
    for m in inv.models:
        if m.provider is None or not isinstance(m.api_base, str) or lab_ip is None:
            continue
        url = urlsplit(m.api_base)
        if url.hostname != lab_ip or url.port is None:
            continue
        if m.provider not in PROVIDER_APIS:
            raise StandInError(f"model {m.name}: the lab has no stand-in for provider {m.provider!r} (only {', '.join(PROVIDER_APIS)})")
        key_env = m.api_key.env_name if m.api_key is not None else None
        out.append(StandIn(m.name, m.provider, m.upstream, lab_ip, url.port, key_env, m.context_window))
    return out


def service_ports(inv: Inventory) -> list[int]:
    """Ports the lab machine must accept from lab hosts for the stand-ins."""
    return sorted({s.port for s in standins(inv)})


def _ready(ip: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=0.5) as conn:
        conn.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        return b" 200 " in conn.recv(64)
    return False


def start(inv: Inventory, workdir: Path, lab_secrets: dict[str, str], *, log=print) -> list[StandIn]:
    """Start every stand-in of ``inv`` (recorded in the lab's ledger) and wait until each answers ``/health``."""
    from fleetlab.programs import llama_server_bin
    from fleetlab.tiny_gguf import write_tiny_gguf

    wanted = standins(inv)
    if not wanted:
        return []
    workdir = Path(workdir).resolve()
    base = workdir / "cloud-standin"
    base.mkdir(parents=True, exist_ok=True)
    gguf = base / GGUF
    if not gguf.is_file():
        write_tiny_gguf(gguf, seed=0, template="chatml")
    ledger = Ledger.open(workdir)
    running = {e.data["name"] for e in ledger.of_kind("process") if daemons.is_running(e.data["pid"], e.data["start"])}
    binary = str(llama_server_bin())
    for s in wanted:
        if s.process in running:
            continue
        argv = [binary, "-m", str(gguf), "--host", s.ip, "--port", str(s.port), "--alias", s.upstream]
        argv += ["--ctx-size", str(s.slot_ctx * SLOTS), "--parallel", str(SLOTS), "--threads", "1", "--jinja", "--log-timestamps"]
        if s.key_env:
            if s.key_env not in lab_secrets:
                raise StandInError(f"model {s.model}: no lab value for {s.key_env}")
            keyfile = base / f"{s.model}.key"
            keyfile.touch(mode=0o600)
            keyfile.chmod(0o600)
            keyfile.write_text(lab_secrets[s.key_env] + "\n")
            argv += ["--api-key-file", str(keyfile)]
        logfile = _log(workdir, s.model)
        pid, started = daemons.spawn_detached(argv, logfile)
        ledger.add("process", name=s.process, pid=pid, start=started, log=str(logfile))
    deadline = time.monotonic() + READY_TIMEOUT
    for s in wanted:
        while not _ready(s.ip, s.port):
            if time.monotonic() > deadline:
                raise StandInError(f"stand-in of {s.model} did not answer on {s.ip}:{s.port}; see {workdir / 'logs'}")
            time.sleep(0.2)
    log(f"[lab] STAND-IN for the internet: {', '.join(f'{s.model} ({s.provider}) {s.ip}:{s.port}' for s in wanted)}")
    return wanted


def _entry(workdir: Path, model: str):
    ledger = Ledger.open(Path(workdir).resolve())
    for e in ledger.of_kind("process"):
        if e.data["name"] == f"cloud-standin:{model}":
            return ledger, e
    raise KeyError(f"no stand-in of {model} in the lab in {workdir}")


def _log(workdir: Path, model: str) -> Path:
    return Path(workdir).resolve() / "logs" / f"cloud-standin-{model}.log"


def served(workdir: Path, model: str, mark: str = SERVED_MARK) -> int:
    """How many completions the stand-in of ``model`` has run (lines with ``mark`` in its own log; a
    stopped stand-in keeps its log)."""
    with open(_log(workdir, model), errors="replace") as fh:
        return sum(mark in line for line in fh)


def stop(workdir: Path, model: str) -> None:
    """Stop the stand-in of ``model`` (that provider model's outage)."""
    ledger, e = _entry(workdir, model)
    if not daemons.stop_process(e.data["pid"], e.data["start"], grace=5.0):
        raise StandInError(f"stand-in of {model} (pid {e.data['pid']}) did not stop")
    ledger.remove(e)
