"""tools/gpu-check.sh, the parts that run without a GPU: CUDA architecture of a compute capability,
an honest refusal on a machine without nvidia-smi, the prepared source, and the report's use of
llmfleet's NVIDIA fact parser and VRAM rule on recorded nvidia-smi output.

The GPU run itself needs a lent NVIDIA machine (the device tool); none is lent here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetlab.gpucheck import report

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "gpu-check.sh"


def sh(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize(("cap", "arch"), [("9.0", "90"), ("8.9", "89"), ("12.0", "120")])
def test_cuda_architecture_is_the_cards_own(cap: str, arch: str) -> None:
    out = sh("cuda-arch", cap)
    assert out.returncode == 0 and out.stdout.strip() == arch


def test_a_capability_it_cannot_read_is_refused() -> None:
    out = sh("cuda-arch", "sm_90")
    assert out.returncode != 0 and "unknown compute capability" in out.stderr


def test_run_without_a_gpu_says_so_and_fails(tmp_path: Path) -> None:
    if shutil.which("nvidia-smi", path="/usr/bin:/bin"):
        pytest.skip("this machine has an nvidia-smi")
    out = sh("run", str(tmp_path), env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 3
    assert "no nvidia-smi" in (tmp_path / "status.txt").read_text()


@pytest.mark.real
def test_prepare_fits_the_device_carry_and_configures(tmp_path: Path) -> None:
    if not (Path(os.environ.get("LLMFLEET_CACHE", Path.home() / ".cache/llmfleet")) / "downloads/llama_cpp_python-0.3.36.tar.gz").is_file():
        pytest.skip("the llama-cpp-python sdist is not cached: make llama-server")
    assert sh("prepare", timeout=300).returncode == 0
    work = REPO / "build" / "gpu-check"
    size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file() and "out" not in p.parts)
    assert size < 60 * 2**20, f"{size >> 20} MiB does not fit the device tool's 64 MiB carry"
    assert (work / "tiny-chatml.gguf").stat().st_size > 100_000
    configured = subprocess.run(
        ["cmake", "-S", str(work / "src-llama.cpp"), "-B", str(tmp_path / "b"), "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_UI=OFF",
         "-DLLAMA_USE_PREBUILT_UI=OFF", "-DGGML_NATIVE=OFF"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert configured.returncode == 0, configured.stderr[-3000:]


def test_report_reads_recorded_nvidia_smi_with_llmfleets_parser(tmp_path: Path) -> None:
    # The format of `nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits`
    # on an H200 (the numbers are this fixture's, not a measurement).
    (tmp_path / "nvidia-smi.csv").write_text("0, NVIDIA H200, 570.124.06, 143771\n")
    (tmp_path / "status.txt").write_text("compute_cap=9.0 cuda_arch=90\n")
    (tmp_path / "chat-seconds.txt").write_text("0.010\n0.020\n0.030\n")
    text = report(tmp_path)
    assert "| 0 | NVIDIA H200 | 570.124.06 | 570 | 143771 |" in text
    assert "nova-hybrid declares 1 x 16 GiB, driver branch 550; the card has 1 x 140.4 GiB, branch 570" in text
    assert "Verdict: fits in 140.4 GiB" in text
    assert "p50 20.0 ms" in text


def test_report_without_a_gpu_claims_nothing(tmp_path: Path) -> None:
    (tmp_path / "status.txt").write_text("no nvidia-smi: not a GPU machine\n")
    text = report(tmp_path)
    assert "nothing below is measured" in text and "Verdict" not in text
