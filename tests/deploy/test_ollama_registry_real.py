"""The real Ollama pulls a model from an operator-run registry, without the internet (ollama#7244).

Real programs only: Ollama 0.17.4 (built from its Go module, ``make go-programs``), Debian's
``docker-registry`` (CNCF distribution 2.8, a real Registry v2; ``make lab-tools``) and a plain static
file server. Two Ollama servers on loopback, each with its own model directory: one creates the
tiny GGUF model and pushes it, the other pulls it with the commands deploy runs
(:func:`llmfleet.deploy.operations.ollama.pull_commands`).

Measured: Ollama asks for each blob without following a redirect to another host name and reads
the ``Location`` header, so a registry that serves the blob itself (200) fails with "no Location
header in response". With distribution's ``redirect`` storage middleware pointing at a static
server of the registry's storage root under another host name, the pull works.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fleetlab.programs import ProgramMissing, go_release
from fleetlab.tiny_gguf import write_tiny_gguf
from llmfleet.deploy.operations.ollama import pull_commands
from llmfleet.versions import DEFAULT_OLLAMA_VERSION

pytestmark = pytest.mark.real
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def ollama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        archive = go_release("ollama", DEFAULT_OLLAMA_VERSION)
    except ProgramMissing as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("ollama")
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root / "bin" / "ollama"


@pytest.fixture(scope="module")
def registry_bin() -> str:
    found = shutil.which("docker-registry")
    if found is None:
        pytest.skip("docker-registry (Debian's CNCF distribution 2.8) is not installed: make lab-tools")
    return found


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serving(argv: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(ready_url, timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{argv[0]} did not answer {ready_url}: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _registry_config(path: Path, storage: Path, port: int, redirect: str | None) -> Path:
    middleware = f'middleware:\n  storage:\n    - name: redirect\n      options: {{baseurl: "{redirect}"}}\n' if redirect else ""
    path.write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {storage}}}\n{middleware}http:\n  addr: 127.0.0.1:{port}\n"
    )
    return path


def _ollama_server(ollama: Path, models: Path, port: int, log: Path):
    env = {"OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(models), "HOME": str(models.parent)}
    return _serving([str(ollama), "serve"], f"http://127.0.0.1:{port}/api/version", log, env)


def _run(argv: list[str], ollama: Path) -> subprocess.CompletedProcess[str]:
    """One of deploy's argv lists, with this Ollama first on PATH (as the installed one is on a host)."""
    env = {**os.environ, "PATH": f"{ollama.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, env=env)


def _tags(port: int) -> dict[str, str]:
    data = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/tags", timeout=20))
    return {m["name"]: m["digest"] for m in data.get("models") or []}


def test_ollama_pulls_from_a_registry_v2_only_through_a_blob_redirect(ollama: Path, registry_bin: str, tmp_path: Path) -> None:
    storage, static_port, reg_port, plain_port, src_port, dst_port = tmp_path / "registry", _port(), _port(), _port(), _port(), _port()
    storage.mkdir()
    gguf = write_tiny_gguf(tmp_path / "tiny-chatml.gguf", seed=0, template="chatml")
    (tmp_path / "Modelfile").write_text(f"FROM {gguf}\nPARAMETER temperature 0\n")
    reg = f"127.0.0.1:{reg_port}"
    ref = f"{reg}/library/tiny:v1"
    # The blob redirect goes to a different host name (localhost, not 127.0.0.1): Ollama follows a redirect to
    # the same host itself and then finds no Location header, exactly as without one.
    redirecting = _registry_config(tmp_path / "redirect.yml", storage, reg_port, f"http://localhost:{static_port}/")
    plain = _registry_config(tmp_path / "plain.yml", storage, plain_port, None)
    static = [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1", "--directory", str(storage)]
    with (
        _serving(static, f"http://127.0.0.1:{static_port}/", tmp_path / "static.log"),
        _serving([registry_bin, "serve", str(redirecting)], f"http://{reg}/v2/", tmp_path / "registry.log"),
        _serving([registry_bin, "serve", str(plain)], f"http://127.0.0.1:{plain_port}/v2/", tmp_path / "plain.log"),
        _ollama_server(ollama, tmp_path / "src" / "models", src_port, tmp_path / "src.log"),
        _ollama_server(ollama, tmp_path / "dst" / "models", dst_port, tmp_path / "dst.log"),
    ):
        src = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{src_port}"}
        made = subprocess.run(
            [str(ollama), "create", ref, "-f", str(tmp_path / "Modelfile")], env=src, capture_output=True, text=True, timeout=300
        )
        assert made.returncode == 0, made.stderr[-2000:]
        pushed = subprocess.run([str(ollama), "push", "--insecure", ref], env=src, capture_output=True, text=True, timeout=300)
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        head = urllib.request.Request(f"http://{reg}/v2/library/tiny/manifests/v1", method="HEAD", headers={"Accept": MANIFEST_V2})
        digest = urllib.request.urlopen(head, timeout=20).headers["Docker-Content-Digest"].removeprefix("sha256:")
        assert len(digest) == 64

        # A plain Registry v2 (the same storage, no redirect): the pull fails (ollama#7244), and says why.
        addr = f"127.0.0.1:{dst_port}"
        failed = _run(
            pull_commands(f"127.0.0.1:{plain_port}/library/tiny:v1", "tiny-plain:v1", addr, insecure=True, timeout=120)[0], ollama
        )
        assert failed.returncode != 0 and "no Location header in response" in failed.stdout + failed.stderr, failed
        assert _tags(dst_port) == {}

        # Through the redirect: deploy's commands pull it, name it, drop the long name; the digest is the registry's.
        t0 = time.monotonic()
        for argv in pull_commands(ref, "tiny-mirror:v1", addr, insecure=True, timeout=300):
            done = _run(argv, ollama)
            assert done.returncode == 0, (argv, done.stdout[-1000:], done.stderr[-2000:])
        seconds = time.monotonic() - t0
        assert _tags(dst_port) == {"tiny-mirror:v1": digest}
        blob = next(line for line in (tmp_path / "static.log").read_text().splitlines() if "/docker/registry/v2/blobs/sha256/" in line)
        assert '"GET ' in blob, "the blob came from the static server the registry redirected to"
        print(f"pulled {gguf.stat().st_size} bytes from the registry in {seconds:.2f} s (digest {digest[:12]})")

        # The deploy operation itself (pyinfra @local): pulls once, the re-run changes nothing, a wrong pin fails.
        first = _deploy(tmp_path, ollama, ref, addr, digest)
        assert first["success"] == ["@local"] and not first["error"], first
        assert _tags(dst_port)["tiny-deploy:v1"] == digest
        again = _deploy(tmp_path, ollama, ref, addr, digest)
        assert again["no_change"] == ["@local"] and not again["success"], "a present model with the pinned digest is not pulled again"
        wrong = _pyinfra(tmp_path, ollama, ref, addr, "0" * 64)
        assert wrong.returncode != 0, "the pulled digest is not the pinned one: the operation fails"
        assert f"with digest {digest}, the inventory pins {'0' * 64}" in wrong.stdout + wrong.stderr


def _pyinfra(tmp_path: Path, ollama: Path, ref: str, addr: str, digest: str) -> subprocess.CompletedProcess[str]:
    """Run ``model_pulled_from`` with pyinfra on this machine (``@local``)."""
    deploy = tmp_path / "pull.py"
    deploy.write_text(
        "from llmfleet.deploy.operations.ollama import model_pulled_from\n"
        f"model_pulled_from(name='Pull tiny-deploy', model='tiny-deploy:v1', reference={ref!r}, address={addr!r}, insecure=True,"
        f" digest={digest!r}, timeout=300)\n"
    )
    pyinfra = str(Path(sys.executable).parent / "pyinfra")
    env = {**os.environ, "PATH": f"{ollama.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [pyinfra, "-y", "@local", str(deploy), "--json"], capture_output=True, text=True, timeout=600, env=env, check=False
    )


def _deploy(tmp_path: Path, ollama: Path, ref: str, addr: str, digest: str) -> dict:
    """:func:`_pyinfra`, which must succeed; its operation's result (success / no_change / error hosts)."""
    out = _pyinfra(tmp_path, ollama, ref, addr, digest)
    try:
        ops = json.loads(out.stdout)["results"]["operations"]
    except (ValueError, KeyError):
        raise AssertionError(f"pyinfra printed no results (exit {out.returncode}): {out.stderr[-2000:]}") from None
    assert len(ops) == 1, ops
    return ops[0]
