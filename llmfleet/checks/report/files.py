"""Atomic file writes (a reader such as node_exporter never sees half a report) and the last sanitising pass."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from llmfleet.checks.results import Report
from llmfleet.checks.sanitize import clean_value


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def safe(report: Report) -> Report:
    """``report`` with every string sanitised (idempotent; the runner already did it, every writer does it again)."""
    return Report.model_validate(clean_value(report.model_dump(mode="python")))
