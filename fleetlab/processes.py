"""Start the real programs as managed child processes for tests and demos.

Every wait is bounded, every child runs in its own process group and the whole group is killed
on exit (SIGTERM, then SIGKILL), so nothing leaks even if the program forks workers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from fleetlab.programs import litellm_bin, llama_server_bin

__all__ = [
    "ProcessStartError",
    "free_port",
    "managed_process",
    "run_litellm",
    "run_llama_server",
    "tail",
]

LOOPBACK = "127.0.0.1"


class ProcessStartError(RuntimeError):
    """A program exited or did not become ready in time; the message ends with its log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _claim_port(host: str, port: int | None) -> int:
    """Return ``port`` (or a free one if None), failing at once if it is already taken."""
    if port is None:
        return free_port(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers we start: a port held only by TIME_WAIT connections of an earlier run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ProcessStartError(f"port {port} on {host} is already in use ({exc})") from exc
    return port


def tail(path: str | Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Terminate ``proc``'s whole process group: SIGTERM, wait ``grace`` s, then SIGKILL."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        elif proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if pgid is None:
            return
        # The leader is gone; make sure no group member (forked worker) survives.
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
    # SIGKILL sent to the group: reap the leader if it is still there.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5.0)


@contextlib.contextmanager
def managed_process(
    argv: Sequence[str | os.PathLike[str]],
    *,
    ready_url: str,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    name: str | None = None,
    stop_grace: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in a new process group until ``ready_url`` answers HTTP 200; yield the process.

    Args:
        argv: the command line.
        ready_url: polled with GET until it returns 200, at most ``timeout`` seconds.
        timeout: the bound on start-up, in seconds.
        env: variables added to (and overriding) the current environment.
        cwd: working directory (default: a temporary directory, so nothing lands in the repo).
        log_path: where stdout and stderr go (default: a file in a temporary directory).
        name: a label for error messages (default: the program's file name).
        stop_grace: seconds between SIGTERM and SIGKILL on exit.

    Raises:
        ProcessStartError: the program exited early or was not ready within ``timeout``;
            the message includes the last lines of its log.
    """
    label = name or Path(os.fspath(argv[0])).name
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"llmfleet-{label}-"))
        log = Path(log_path) if log_path is not None else Path(tmp) / f"{label}.log"
        full_env = {**os.environ, **(env or {})}
        with open(log, "ab") as log_fh:
            proc = subprocess.Popen(
                [os.fspath(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=os.fspath(cwd) if cwd is not None else tmp,
                start_new_session=True,
            )
        stack.callback(_kill_group, proc, stop_grace)
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                code = proc.poll()
                if code is not None:
                    raise ProcessStartError(
                        f"{label} exited with code {code} before {ready_url} was ready; last log lines ({log}):\n{tail(log)}"
                    )
                try:
                    resp = client.get(ready_url)
                    if resp.status_code == 200:
                        break
                    last_error = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() >= deadline:
                    raise ProcessStartError(
                        f"{label} not ready at {ready_url} after {timeout:.0f} s ({last_error}); last log lines ({log}):\n{tail(log)}"
                    )
                time.sleep(0.2)
        if proc.poll() is not None:  # something else answered on that port
            raise ProcessStartError(f"{label} exited with code {proc.returncode}; last log lines ({log}):\n{tail(log)}")
        yield proc


@contextlib.contextmanager
def run_litellm(
    config_path: str | os.PathLike[str],
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    *,
    host: str = LOOPBACK,
    timeout: float = 90.0,
    extra_args: Sequence[str] = (),
    log_path: str | os.PathLike[str] | None = None,
) -> Iterator[str]:
    """Run the real LiteLLM proxy with ``config_path``; yield its base URL (``http://host:port``).

    The proxy runs fully offline (``LITELLM_LOCAL_MODEL_COST_MAP=True``, overridable via ``env``)
    and is ready when ``/health/liveliness`` answers 200 (typically 5-10 s).

    Args:
        config_path: the proxy's ``config.yaml``.
        port: TCP port (default: a free one).
        env: extra environment, e.g. ``{"LITELLM_MASTER_KEY": "sk-..."}``.
        host: bind address (loopback by default).
        timeout: start-up bound in seconds.
        extra_args: more ``litellm`` CLI arguments.
        log_path: where the proxy's output goes (default: a temporary file).

    Raises:
        ProgramMissing: litellm is not installed (``make litellm-proxy``).
        ProcessStartError: it did not start; the message has the log tail.
    """
    port = _claim_port(host, port)
    argv = [
        litellm_bin(),
        "--config",
        os.path.abspath(config_path),
        "--host",
        host,
        "--port",
        str(port),
        *extra_args,
    ]
    full_env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})}
    base = f"http://{host}:{port}"
    with managed_process(
        argv,
        ready_url=f"{base}/health/liveliness",
        timeout=timeout,
        env=full_env,
        log_path=log_path,
        name="litellm",
    ):
        yield base


@contextlib.contextmanager
def run_llama_server(
    gguf_path: str | os.PathLike[str],
    port: int | None = None,
    extra_args: Sequence[str] = ("--jinja",),
    *,
    host: str = LOOPBACK,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> Iterator[str]:
    """Run the real ``llama-server`` on ``gguf_path``; yield its base URL (``http://host:port``).

    Ready when ``/health`` answers 200 (the model is loaded).  The OpenAI-compatible API is under
    ``<base>/v1``.

    Args:
        gguf_path: the model file.
        port: TCP port (default: a free one).
        extra_args: more ``llama-server`` arguments (default ``("--jinja",)``: use the model's
            Jinja chat template, which is what enables tool calling).
        host: bind address (loopback by default).
        timeout: start-up bound in seconds.
        env: extra environment variables.
        log_path: where the server's output goes (default: a temporary file).

    Raises:
        ProgramMissing: llama-server is not built (``make llama-server``).
        ProcessStartError: it did not start; the message has the log tail.
    """
    port = _claim_port(host, port)
    argv = [
        llama_server_bin(),
        "-m",
        os.path.abspath(gguf_path),
        "--host",
        host,
        "--port",
        str(port),
        *extra_args,
    ]
    base = f"http://{host}:{port}"
    with managed_process(
        argv,
        ready_url=f"{base}/health",
        timeout=timeout,
        env=env,
        log_path=log_path,
        name="llama-server",
    ):
        yield base
