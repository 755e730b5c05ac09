#!/usr/bin/env python3
"""STAND-IN for ``nvidia-smi``, used only in llmfleet's lab: the lab machines have no GPU and no driver.

It reproduces exactly one real behaviour, honestly: ``nvidia-smi`` on a machine where the driver
finds no GPU prints "No devices were found" and exits with status 6 (NVML "not found"), whatever
the arguments (``-L``, ``--query-gpu=...``). A deploy's verify step must treat such a host as
CPU-only; it must never read this as a working GPU. Python 3 standard library only.
"""

from __future__ import annotations

import sys

NO_DEVICES_EXIT = 6


def main(argv: list[str] | None = None) -> int:
    """Print what nvidia-smi prints when no GPU is present and return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print("nvidia-smi (llmfleet lab STAND-IN): there is no GPU here; every query reports 'No devices were found'.")
        return 0
    print("No devices were found")
    return NO_DEVICES_EXIT


if __name__ == "__main__":
    sys.exit(main())
