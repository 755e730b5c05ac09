"""The local loopback lab: a real LiteLLM gateway in front of real llama-servers, on this machine.

No root, no booted hosts: ``make demo-local``, the checks' real-program tests and the mirror's
tiny GGUFs use it (the booted lab is :mod:`fleetlab.hosts`, ``make demo``). What it does:

1. load ``inventories/lab-local.yml`` (one host, roles gateway + gpu, llama.cpp backends bound to
   loopback, no mesh);
2. generate each backend's tiny random-weight GGUF (:mod:`fleetlab.tiny_gguf`, deterministic)
   and verify its SHA-256 against the inventory's pinned ``llamacpp.model.sha256``;
3. render the fleet with :func:`llmfleet.render.render_fleet`;
4. start each real ``llama-server`` with the arguments of its *rendered* systemd unit (only the
   binary and the model path are swapped for local ones), and the real LiteLLM proxy with the
   arguments of its rendered unit and the *rendered* ``litellm/config.yaml`` (binary, config path
   and a loopback bind swapped in) on the inventory's port, with the master
   key in the environment variable the inventory names: the operator's value when set, else a
   generated one (never printed; ``up`` writes it to a 0600 file);
5. yield the gateway URL (:func:`run_local_lab`), and stop everything on exit.

CLI (the Makefile's ``demo-local`` target runs ``demo``)::

    python -m fleetlab.local up      [--inventory FILE]   # run until Ctrl-C
    python -m fleetlab.local check   [--inventory FILE] [check options …]
    python -m fleetlab.local health  [--inventory FILE] [health options …]
    python -m fleetlab.local demo    [--inventory FILE] [--out DIR]  # check + JSON/JUnit/Prom reports

Ports come from the inventory (the rendered config must be the one used); a port that is taken
fails at once with the port and what wanted it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import shlex
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fleetlab.processes import managed_process
from fleetlab.programs import cache_dir, litellm_bin, llama_server_bin
from fleetlab.tiny_gguf import EAGER_TOOL_CALL_BIAS, write_tiny_gguf
from llmfleet.inventory import load_inventory
from llmfleet.inventory.llamacpp_flags import by_field
from llmfleet.inventory.model import Backend, Inventory
from llmfleet.render import render_fleet

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INVENTORY = REPO / "inventories" / "lab-local.yml"

#: How each pinned lab GGUF is generated, by file name: (seed, template, eager tool calls).
GGUF_RECIPES: dict[str, tuple[int, str, bool]] = {
    "tiny-qwen2.5-tools.gguf": (0, "qwen2.5-tools", False),
    "tiny-eager-tools.gguf": (0, "qwen2.5-tools", True),
    "tiny-chatml.gguf": (0, "chatml", False),
    # Scripted, not random: answers llmfleet's tool probe with real tool calls (fleetlab.tiny_gguf).
    "tiny-scripted-tools.gguf": (0, "scripted-tools", False),
}


class LabError(RuntimeError):
    """The local lab cannot start; the message says why and what to do."""


@dataclass
class LocalLab:
    """A running local lab."""

    inventory: Inventory
    inventory_path: Path
    gateway_url: str
    key_env: str
    environ: dict[str, str]  # contains the master key under key_env: hand to SecretRef.resolve
    backend_urls: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ensure_gguf(backend: Backend, models_dir: Path) -> Path:
    """Generate the backend's tiny GGUF (cached) and verify it against the inventory's SHA-256."""
    assert backend.llamacpp is not None
    art = backend.llamacpp.model
    recipe = GGUF_RECIPES.get(art.filename)
    if recipe is None:
        raise LabError(
            f"backend {backend.name}: {art.filename} is not a lab model this machine can generate (known: {', '.join(GGUF_RECIPES)})"
        )
    path = models_dir / art.filename
    if not path.exists() or sha256_file(path) != art.sha256:
        seed, template, eager = recipe
        tmp = path.with_suffix(".tmp")
        write_tiny_gguf(tmp, seed=seed, template=template, tool_call_bias=EAGER_TOOL_CALL_BIAS if eager else None)
        tmp.replace(path)
    digest = sha256_file(path)
    if digest != art.sha256:
        raise LabError(
            f"backend {backend.name}: generated {art.filename} has sha256 {digest}, the inventory pins "
            f"{art.sha256}; the generator (fleetlab.tiny_gguf or the gguf package) changed — "
            "update the pin in the inventory if that is intended"
        )
    return path


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail with a clear message when ``host:port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise LabError(
                f"port {host}:{port} for {what} is taken ({exc.strerror}); stop what uses it "
                "(another `make demo`?) or change the port in the inventory"
            ) from None


def _exec_args(unit: str) -> list[str]:
    for line in unit.splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line.removeprefix("ExecStart="))
    raise LabError("the rendered unit has no ExecStart")


def llama_argv(unit: str, gguf: Path) -> list[str]:
    """The rendered unit's llama-server command with the local binary and model path."""
    args = _exec_args(unit)[1:]
    model_flag = by_field("llamacpp.model").flag
    try:
        i = args.index(model_flag)
    except ValueError:
        raise LabError(f"the rendered llama-server unit has no {model_flag}") from None
    args[i + 1] = str(gguf)
    return [str(llama_server_bin()), *args]


def litellm_argv(unit: str, config: Path, host: str) -> list[str]:
    """The rendered litellm.service command with the local binary, config path and bind address."""
    args = _exec_args(unit)[1:]
    for flag, value in (("--config", str(config)), ("--host", host)):
        try:
            args[args.index(flag) + 1] = value
        except ValueError:
            raise LabError(f"the rendered litellm unit has no {flag}") from None
    return [str(litellm_bin()), *args]


@contextlib.contextmanager
def run_local_lab(
    inventory_path: Path = DEFAULT_INVENTORY,
    *,
    environ: dict[str, str] | None = None,
    workdir: Path | None = None,
    log_dir: Path | None = None,
) -> Iterator[LocalLab]:
    """Start the lab described by ``inventory_path``; yield it running; stop everything on exit.

    Raises:
        InventoryError: the inventory is invalid.
        ProgramMissing: litellm or llama-server is not installed (the message names the make target).
        LabError: a GGUF does not match its pin, a port is taken, the inventory is not a local lab.
        ProcessStartError: a program did not start (the message has its log tail).
    """
    inv = load_inventory(inventory_path)
    gw_hosts = inv.hosts_with("gateway")
    if inv.mesh is not None or len(gw_hosts) != 1:
        raise LabError(f"{inventory_path} is not a single-host loopback lab (no mesh, one gateway host)")
    key_ref = inv.gateway.master_key
    if key_ref.scheme != "env":
        raise LabError("the local lab needs the master key as an env: reference")
    env_in = dict(os.environ if environ is None else environ)
    key = env_in.get(key_ref.target) or "sk-lab-" + secrets.token_hex(24)
    lab_env = {key_ref.target: key}
    files = render_fleet(inv)
    config = next((f for f in files if f.relpath.endswith("litellm/config.yaml")), None)
    if config is None:
        raise LabError("rendering produced no litellm/config.yaml")
    gw_bind = inv.gateway.local_address
    models_dir = cache_dir() / "lab-local" / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        work = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llmfleet-lab-local-")))
        logs = log_dir or work
        logs.mkdir(parents=True, exist_ok=True)
        backend_urls: dict[str, str] = {}
        plan = []
        for b in inv.backends:
            if b.kind != "llamacpp" or b.llamacpp is None:
                raise LabError(f"backend {b.name} is {b.kind}: the local lab runs llama.cpp backends only")
            ip = inv.backend_bind_ip(b)
            ensure_port_free(ip, b.port, f"backend {b.name}")
            unit = next((f for f in files if f.relpath.endswith(f"llama-server-{b.name}.service")), None)
            if unit is None:
                raise LabError(f"no rendered unit for backend {b.name}")
            plan.append((b, ip, llama_argv(unit.content, ensure_gguf(b, models_dir))))
        ensure_port_free(gw_bind, inv.gateway.port, "the LiteLLM gateway")
        for b, ip, argv in plan:
            base = f"http://{ip}:{b.port}"
            stack.enter_context(
                managed_process(
                    argv,
                    ready_url=f"{base}/health",
                    timeout=60,
                    name=f"llama-server-{b.name}",
                    log_path=logs / f"llama-server-{b.name}.log",
                )
            )
            backend_urls[b.name] = base
        config_path = work / "config.yaml"
        config_path.write_text(config.content, encoding="utf-8")
        gw_unit = next((f for f in files if f.relpath.endswith("systemd/litellm.service")), None)
        if gw_unit is None:
            raise LabError("rendering produced no litellm.service (the local lab needs runtime: systemd-venv)")
        url = f"http://{gw_bind}:{inv.gateway.port}"
        stack.enter_context(
            managed_process(
                litellm_argv(gw_unit.content, config_path, gw_bind),
                ready_url=f"{url}/health/liveliness",
                timeout=90,
                env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", **lab_env},
                log_path=logs / "litellm.log",
                name="litellm",
            )
        )
        yield LocalLab(inv, inventory_path, url, key_ref.target, {**env_in, **lab_env}, backend_urls, work)


def _check_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--inventory", type=Path, default=DEFAULT_INVENTORY)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code (that of the check for check/health/demo)."""
    ap = argparse.ArgumentParser(prog="python -m fleetlab.local", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the lab and keep it running until Ctrl-C")
    _check_args(up)
    up.add_argument(
        "--key-file", type=Path, default=REPO / ".lab" / "lab-local.key", help="where to write the master key (0600) when it was generated"
    )
    for name in ("check", "health"):
        p = sub.add_parser(
            name,
            help=f"start the lab, run `llmfleet {name}` against it, stop",
            description="Further arguments are passed to the check command.",
        )
        _check_args(p)
    demo = sub.add_parser("demo", help="start the lab, run the full check with reports, stop")
    _check_args(demo)
    demo.add_argument("--out", type=Path, default=REPO / "out" / "lab-local")
    args, rest = ap.parse_known_args(argv)
    if rest and args.cmd in ("up", "demo"):
        ap.error(f"unrecognized arguments: {' '.join(rest)}")

    from fleetlab.processes import ProcessStartError
    from fleetlab.programs import ProgramMissing
    from llmfleet.inventory import InventoryError

    print(
        f"starting the local lab ({args.inventory.name}): llama-server(s) and the LiteLLM proxy on loopback…", file=sys.stderr, flush=True
    )
    try:
        with run_local_lab(args.inventory) as lab:
            print(
                f"lab up: gateway {lab.gateway_url}, backends " + ", ".join(f"{k} {v}" for k, v in lab.backend_urls.items()),
                file=sys.stderr,
                flush=True,
            )
            if args.cmd == "up":
                return _up(lab, args.key_file)
            return _run_check(args.cmd, lab, rest, getattr(args, "out", None))
    except (InventoryError, ProgramMissing, LabError, ProcessStartError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"llmfleet lab: cannot start the local lab: {first}", file=sys.stderr)
        rest_lines = str(exc).splitlines()[1:]
        if rest_lines:
            print("\n".join(rest_lines[-20:]), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _up(lab: LocalLab, key_file: Path) -> int:
    import signal
    import threading

    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(lab.environ[lab.key_env] + "\n")
    print(
        f"master key written to {key_file} (0600). Try:\n"
        f"  export {lab.key_env}=$(cat {key_file})\n"
        f"  llmfleet check {lab.inventory_path}\n"
        "Ctrl-C or SIGTERM stops the lab.",
        file=sys.stderr,
        flush=True,
    )
    # Both signals end the wait, so the context managers stop every child (also when started in the
    # background, where SIGINT is ignored).
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("stopping the local lab…", file=sys.stderr, flush=True)
    return 0


def _run_check(cmd: str, lab: LocalLab, rest: list[str], out: Path | None) -> int:
    import typer.main

    from llmfleet.cli import app

    argv = [str(lab.inventory_path), "--gateway", lab.gateway_url, *rest]
    if cmd == "demo":
        assert out is not None
        out.mkdir(parents=True, exist_ok=True)
        argv += [
            "--direct",
            "--samples",
            "10",
            "--warmup",
            "2",
            "--json",
            str(out / "check.json"),
            "--junit",
            str(out / "check.junit.xml"),
            "--prom",
            str(out / "llmfleet_check.prom"),
        ]
    command = typer.main.get_command(app)
    # The check reads the key from the env var the inventory names.
    os.environ[lab.key_env] = lab.environ[lab.key_env]
    try:
        rv = command.main(args=["health" if cmd == "health" else "check", *argv], prog_name="llmfleet", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # click.UsageError and friends
        print(f"llmfleet {cmd}: {exc}", file=sys.stderr)
        return 2
    code = rv if isinstance(rv, int) else 0
    if cmd == "demo" and out is not None:
        print(f"reports: {out}/check.json, check.junit.xml, llmfleet_check.prom", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
