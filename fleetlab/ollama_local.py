"""The real Ollama on loopback, for the route benchmark and the real-program tests.

Ollama is the pinned release built from its Go module (``make go-programs``), unpacked into a
work directory and run as ``ollama serve`` with its own ``OLLAMA_MODELS`` and ``HOME`` there, so
nothing touches the machine's own Ollama (if any). Models are made the way deploy makes them:
``ollama create NAME -f Modelfile``. :func:`tool_verdict` sends one of llmfleet's tool-probe
questions to an OpenAI-compatible endpoint (the LiteLLM proxy, or Ollama's ``/v1``) and judges the
answer with the probe's own classifier (:func:`llmfleet.checks.toolcall.classify`).
"""

from __future__ import annotations

import contextlib
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from fleetlab.processes import LOOPBACK, _claim_port, managed_process
from fleetlab.programs import go_release
from llmfleet.checks.answers import StreamAssembler, ToolResponse, parse_completion
from llmfleet.checks.toolcall import SCENARIOS, Scenario, Verdict, classify, request_body


@dataclass(frozen=True)
class LocalOllama:
    """A running ``ollama serve``: its base URL and how to run its CLI against it."""

    url: str
    binary: Path
    env: dict[str, str]

    def create(self, name: str, modelfile: Path, timeout: float = 300.0) -> None:
        """``ollama create name -f modelfile`` (raises with Ollama's message on failure)."""
        done = subprocess.run(
            [str(self.binary), "create", name, "-f", str(modelfile)], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"ollama create {name} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


@contextlib.contextmanager
def run_ollama(version: str, workdir: Path, port: int | None = None, timeout: float = 120.0) -> Iterator[LocalOllama]:
    """Unpack Ollama ``version`` into ``workdir`` and run ``ollama serve`` on loopback until exit.

    Raises:
        ProgramMissing: Ollama ``version`` is not built (``make go-programs``).
        ProcessStartError: it did not answer ``/api/version`` within ``timeout`` (log tail included).
    """
    binary = workdir / "bin" / "ollama"
    if not binary.exists():
        with tarfile.open(go_release("ollama", version)) as tar:
            tar.extractall(workdir, filter="data")
    port = _claim_port(LOOPBACK, port)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "OLLAMA_HOST": f"{LOOPBACK}:{port}",
        "OLLAMA_MODELS": str(workdir / "models"),
        "OLLAMA_NUM_PARALLEL": "1",
    }
    url = f"http://{LOOPBACK}:{port}"
    with managed_process(
        [binary, "serve"], ready_url=f"{url}/api/version", timeout=timeout, env=env, log_path=workdir / "ollama.log", name="ollama"
    ):
        yield LocalOllama(url=url, binary=binary, env=env)


def tool_verdict(
    client: httpx.Client, url: str, model: str, scenario: Scenario, *, stream: bool, headers: dict[str, str] | None = None
) -> tuple[Verdict, ToolResponse]:
    """Ask ``scenario`` (of llmfleet's tool probe) at the chat-completions ``url``; the probe's verdict and the answer."""
    spec = SCENARIOS[scenario]
    body = request_body(spec, model, stream=stream)
    try:
        if not stream:
            resp = client.post(url, json=body, headers=headers or {})
            answer = parse_completion(resp.status_code, resp.content)
        else:
            with client.stream("POST", url, json=body, headers=headers or {}) as resp:
                if resp.status_code != 200:
                    answer = parse_completion(resp.status_code, resp.read())
                else:
                    assembler = StreamAssembler()
                    for line in resp.iter_lines():
                        if line.startswith("data:"):
                            assembler.feed_event(line[5:].strip())
                    answer = assembler.response(200)
    except httpx.HTTPError as exc:
        answer = ToolResponse(error=f"{type(exc).__name__}: {exc}")
    return classify(spec, answer), answer


def digest_on_host(ollama: LocalOllama, name: str, modelfile: str, gguf: Path, host_models_dir: str) -> str:
    """The digest Ollama on a host will report for ``name`` created from the rendered ``modelfile``.

    Ollama's manifest names each layer's blob path under its model directory, so the digest depends on
    where the host keeps models: the model is created here from the same Modelfile (its ``FROM`` pointed at
    the local ``gguf``), and its manifest's local blob directory is replaced by the host's before hashing.
    """
    import hashlib
    import re

    work = Path(ollama.env["OLLAMA_MODELS"]).parent
    local = work / f"{name}.Modelfile"
    local.write_text(re.sub(r"(?m)^FROM .*$", f"FROM {gguf}", modelfile, count=1))
    ollama.create(name, local)
    manifest = (Path(ollama.env["OLLAMA_MODELS"]) / "manifests" / "registry.ollama.ai" / "library" / name / "latest").read_bytes()
    here = json_path(Path(ollama.env["OLLAMA_MODELS"]) / "blobs")
    there = json_path(Path(host_models_dir) / "blobs")
    return hashlib.sha256(manifest.replace(here.encode(), there.encode())).hexdigest()


def json_path(path: Path) -> str:
    """``path`` as it appears inside a JSON string (Go escapes nothing in a plain path but ``"`` and ``\\``)."""
    import json

    return json.dumps(str(path))[1:-1]
