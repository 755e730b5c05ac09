"""Long-running lab processes (nspawn hosts, the mirror) that outlive ``up``.

They are started detached (own session, output to a log file) so that ``lab-up`` can return and
``lab-down`` in another process can stop them. A process is identified by its PID *and* its start
time (field 22 of ``/proc/PID/stat``), so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["is_running", "proc_start_time", "spawn_detached", "stop_process"]


def proc_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(pid: int, start_time: int) -> bool:
    """True when the process recorded as (``pid``, ``start_time``) still runs (zombies do not count)."""
    _reap(pid)
    return proc_start_time(pid) == start_time and _state(pid) not in (None, "Z", "X")


def spawn_detached(
    argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, int]:
    """Start ``argv`` in its own session with stdout+stderr appended to ``log_path``.

    Returns:
        (pid, start_time), the identity to record in the ledger.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    start = proc_start_time(proc.pid)
    if start is None:  # exited at once: leave the exit status to the caller's readiness check
        start = -1
    return proc.pid, start


def stop_process(pid: int, start_time: int, *, grace: float = 10.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``grace`` seconds; True once it is gone.

    Does nothing (and returns True) when the PID now belongs to another process.
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not is_running(pid, start_time):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_running(pid, start_time):
                return True
            time.sleep(0.05)
    return not is_running(pid, start_time)
