"""Facts about NVIDIA GPUs as the loaded driver reports them (``nvidia-smi``)."""

from __future__ import annotations

from typing import TypedDict

from pyinfra.api import FactBase


class NvidiaGpu(TypedDict):
    """One GPU."""

    index: int
    name: str
    driver_version: str
    memory_mib: int


class NvidiaSmi(FactBase[list[NvidiaGpu]]):
    """GPUs with the running driver's version; empty when nvidia-smi is missing or no driver is loaded."""

    default = list

    def requires_command(self) -> str:
        return "nvidia-smi"

    def command(self) -> str:
        return "nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits 2>/dev/null || true"

    def process(self, output: list[str]) -> list[NvidiaGpu]:
        gpus: list[NvidiaGpu] = []
        for line in output:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 4 or not parts[0].isdigit():
                continue
            try:
                memory = int(float(parts[3]))
            except ValueError:
                memory = 0
            gpus.append({"index": int(parts[0]), "name": parts[1], "driver_version": parts[2], "memory_mib": memory})
        return gpus


def driver_branch(version: str) -> str:
    """The branch of a driver version: ``550.120`` → ``550``."""
    return version.split(".", 1)[0]
