"""The helpers deploy uploads to hosts, run here for real (stdlib Python, local files and HTTP)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmfleet.deploy.remote import HELPER_NAMES, helper_source

REMOTE = Path(helper_source("artifact.py")).parent
sys.path.insert(0, str(REMOTE))
import artifact  # noqa: E402
import gateway as gateway_helper  # noqa: E402
import wait as wait_helper  # noqa: E402


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def targz(path: Path, members: dict[str, tuple[bytes, int]]) -> bytes:
    with tarfile.open(path, "w:gz") as tf:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tf.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def install(url: str, digest: str, dest: Path, binary: str, layout: str, cache: Path) -> int:
    """Run ``artifact.py install``."""
    return artifact.main(["install", url, digest, str(dest), "--binary", binary, "--layout", layout, "--cache", str(cache)])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on loopback: (directory, base URL)."""
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_helpers_are_stdlib_only_and_compile_for_old_pythons() -> None:
    for name in HELPER_NAMES:
        source = helper_source(name).read_text()
        compile(source, name, "exec")
        assert "from __future__ import annotations" in source  # 3.9 hosts: no runtime X | Y


def test_fetch_verifies_before_placing(served, tmp_path: Path) -> None:
    root, base = served
    (root / "m.gguf").write_bytes(b"weights")
    dest = tmp_path / "models" / "m.gguf"
    assert artifact.main(["fetch", base + "m.gguf", sha(b"weights"), str(dest)]) == 0
    assert dest.read_bytes() == b"weights"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    marker = Path(str(dest) + artifact.SUFFIX).read_text().split()
    assert marker[0] == sha(b"weights") and marker[1] == "7"


def test_fetch_mismatch_keeps_the_old_file(served, tmp_path: Path, capsys) -> None:
    root, base = served
    (root / "m.gguf").write_bytes(b"tampered")
    dest = tmp_path / "m.gguf"
    dest.write_bytes(b"old good weights")
    assert artifact.main(["fetch", base + "m.gguf", sha(b"weights"), str(dest)]) == 3
    assert dest.read_bytes() == b"old good weights"
    assert "SHA-256 mismatch" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf", "mirror"], "no temporary file left behind"


def test_fetch_unreachable_fails_after_retries(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(artifact.time, "sleep", lambda s: None)
    assert artifact.main(["fetch", "http://127.0.0.1:9/x", "0" * 64, str(tmp_path / "x")]) == 4


def test_install_tree_archive_like_ollama(served, tmp_path: Path) -> None:
    root, base = served
    data = targz(root / "ollama.tgz", {"bin/ollama": (b"#!/bin/sh\necho ollama\n", 0o755), "lib/ollama/libx.so": (b"x", 0o644)})
    dest = tmp_path / "opt" / "ollama" / "0.5.7"
    args = ["install", base + "ollama.tgz", sha(data), str(dest), "--binary", "ollama", "--cache", str(tmp_path / "cache")]
    assert artifact.main(args) == 0
    assert (dest / "bin" / "ollama").read_bytes().startswith(b"#!/bin/sh")
    assert (dest / "lib" / "ollama" / "libx.so").exists()
    assert (dest / ".llmfleet-artifact").read_text().strip() == sha(data)
    assert artifact.main(args) == 0, "a second install of the same archive is a no-op"


def test_install_flat_from_a_nested_archive_like_llama_cpp(served, tmp_path: Path) -> None:
    root, base = served
    buf = root / "llama.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("build/bin/llama-server")
        info.external_attr = 0o755 << 16
        zf.writestr(info, b"ELF")
        zf.writestr("build/bin/libggml.so", b"lib")
    data = buf.read_bytes()
    dest = tmp_path / "llama.cpp" / "b6000"
    assert install(base + "llama.zip", sha(data), dest, "llama-server", "flat", tmp_path / "c") == 0
    assert (dest / "llama-server").read_bytes() == b"ELF"
    assert os.access(dest / "llama-server", os.X_OK)
    assert (dest / "libggml.so").exists()


def test_install_plain_binary_like_headscale(served, tmp_path: Path) -> None:
    root, base = served
    (root / "headscale_0.23.0_linux_amd64").write_bytes(b"ELF headscale")
    dest = tmp_path / "headscale" / "0.23.0"
    data = b"ELF headscale"
    assert install(base + "headscale_0.23.0_linux_amd64", sha(data), dest, "headscale", "flat", tmp_path / "c") == 0
    assert (dest / "headscale").read_bytes() == data
    assert os.access(dest / "headscale", os.X_OK)


def test_install_flat_tailscale_layout(served, tmp_path: Path) -> None:
    root, base = served
    v = "tailscale_1.78.1_amd64"
    data = targz(
        root / f"{v}.tgz",
        {f"{v}/tailscale": (b"ts", 0o755), f"{v}/tailscaled": (b"tsd", 0o755), f"{v}/systemd/tailscaled.service": (b"u", 0o644)},
    )
    dest = tmp_path / "tailscale" / "1.78.1"
    assert install(base + f"{v}.tgz", sha(data), dest, "tailscale", "flat", tmp_path / "c") == 0
    assert (dest / "tailscale").exists() and (dest / "tailscaled").exists()


def test_install_refuses_an_archive_escaping_its_directory(served, tmp_path: Path) -> None:
    root, base = served
    data = targz(root / "evil.tgz", {"../../etc/evil": (b"x", 0o644), "bin/tool": (b"x", 0o755)})
    dest = tmp_path / "t" / "1"
    assert artifact.main(["install", base + "evil.tgz", sha(data), str(dest), "--binary", "tool", "--cache", str(tmp_path / "c")]) == 5
    assert not dest.exists()


def test_install_mismatch_leaves_the_installed_version(served, tmp_path: Path) -> None:
    root, base = served
    good = targz(root / "a.tgz", {"bin/tool": (b"v1", 0o755)})
    dest = tmp_path / "tool" / "1"
    assert artifact.main(["install", base + "a.tgz", sha(good), str(dest), "--binary", "tool", "--cache", str(tmp_path / "c")]) == 0
    targz(root / "b.tgz", {"bin/tool": (b"v2", 0o755)})
    assert artifact.main(["install", base + "b.tgz", "1" * 64, str(dest), "--binary", "tool", "--cache", str(tmp_path / "c")]) == 3
    assert (dest / "bin" / "tool").read_bytes() == b"v1"


def test_fetch_from_a_file_mirror(tmp_path: Path) -> None:
    (tmp_path / "w.gguf").write_bytes(b"w")
    dest = tmp_path / "out" / "w.gguf"
    assert artifact.main(["fetch", (tmp_path / "w.gguf").as_uri(), sha(b"w"), str(dest)]) == 0


def test_wait_helper(served) -> None:
    root, base = served
    (root / "health").write_text("ok")
    assert wait_helper.main([base + "health", "--timeout", "2", "--interval", "0.1"]) == 0
    assert wait_helper.main([base + "missing", "--timeout", "0.3", "--interval", "0.1"]) == 1


# ----------------------------------------------------------------------------- gateway.py
class FakeRuntime:
    """Stands in for systemctl/docker and the readiness probe inside the gateway helper."""

    def __init__(self, ready_with: set[str], watched: Path):
        self.ready_with = ready_with
        self.watched = watched
        self.commands: list[list[str]] = []

    def run(self, cmd: list[str], check: bool = True) -> int:
        self.commands.append(cmd)
        return 0

    def wait(self, url: str, timeout: float, interval: float, what: str) -> bool:
        return self.watched.exists() and self.watched.read_text() in self.ready_with


@pytest.fixture
def gw(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "config.yaml"
    env = tmp_path / ".env"
    snap = tmp_path / ".llmfleet-previous"

    def setup(ready_with: set[str]) -> FakeRuntime:
        rt = FakeRuntime(ready_with, cfg)
        monkeypatch.setattr(gateway_helper, "_run", rt.run)
        monkeypatch.setattr(gateway_helper, "wait", rt.wait)
        return rt

    return cfg, env, snap, setup


def apply_args(snap: Path) -> list[str]:
    return [
        "apply",
        "--snapshot",
        str(snap),
        "--url",
        "http://127.0.0.1:4000/health/readiness",
        "--timeout",
        "1",
        "--unit",
        "litellm.service",
    ]


def test_gateway_apply_ready(gw) -> None:
    cfg, env, snap, setup = gw
    cfg.write_text("good")
    env.write_text("K='v'\n")
    env.chmod(0o600)
    rt = setup({"good", "new"})
    assert gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg), str(env)]) == 0
    assert stat.S_IMODE(snap.stat().st_mode) == 0o700
    cfg.write_text("new")
    assert gateway_helper.main(apply_args(snap)) == 0
    assert ["systemctl", "restart", "litellm.service"] in rt.commands
    assert json.loads((snap / "manifest.json").read_text())["pending"] is False


def test_gateway_rolls_back_to_the_previous_files(gw, capsys) -> None:
    cfg, env, snap, setup = gw
    cfg.write_text("good")
    env.write_text("K='old'\n")
    env.chmod(0o600)
    setup({"good"})
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg), str(env)])
    cfg.write_text("broken")
    env.write_text("K='new'\n")
    assert gateway_helper.main(apply_args(snap)) == 1
    assert cfg.read_text() == "good"
    assert env.read_text() == "K='old'\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600, "the restored .env keeps mode 0600"
    err = capsys.readouterr().err
    assert "rolled back to the previous configuration, which is ready again" in err
    assert "old" not in err and "new" not in err.replace("new gateway", "")


def test_gateway_first_deploy_that_fails_is_stopped(gw, capsys) -> None:
    cfg, env, snap, setup = gw
    rt = setup(set())
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg), str(env)])
    cfg.write_text("broken")
    assert gateway_helper.main(apply_args(snap)) == 1
    assert ["systemctl", "stop", "litellm.service"] in rt.commands
    assert not cfg.exists(), "files that did not exist before are removed, not left half-configured"
    assert "the gateway is stopped" in capsys.readouterr().err


def test_gateway_pending_snapshot_is_kept(gw) -> None:
    cfg, _env, snap, setup = gw
    cfg.write_text("good")
    setup({"good"})
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg)])
    cfg.write_text("half new")  # the run stopped here, before apply
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg)])
    stored = json.loads((snap / "manifest.json").read_text())["files"][str(cfg)]
    assert (snap / stored).read_text() == "good"


def test_gateway_compose_restart_commands(gw, tmp_path: Path) -> None:
    cfg, _env, snap, setup = gw
    cfg.write_text("new")
    rt = setup({"new"})
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg)])
    args = ["apply", "--snapshot", str(snap), "--url", "http://x/", "--project", "litellm", "--compose-file", str(tmp_path / "dc.yml")]
    assert gateway_helper.main(args) == 0
    base = ["docker", "compose", "-p", "litellm", "-f", str(tmp_path / "dc.yml")]
    assert rt.commands == [[*base, "up", "-d", "--remove-orphans"], [*base, "restart", "litellm"]]


def test_helpers_run_as_scripts(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(helper_source("gateway.py")), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "snapshot" in out.stdout


def test_install_listed_takes_the_checksum_from_sha256sums(served, tmp_path: Path) -> None:
    root, base = served
    v = "tailscale_1.78.1_amd64"
    data = targz(root / f"standin-{v}.tgz", {f"{v}/tailscale": (b"ts", 0o755), f"{v}/tailscaled": (b"tsd", 0o755)})
    (root / "SHA256SUMS").write_text(f"{sha(b'x')}  other.gguf\n{sha(data)}  standin-{v}.tgz\n")
    dest = tmp_path / "tailscale" / "1.78.1"
    args = [
        "install-listed",
        base + "SHA256SUMS",
        f"{v}.tgz",
        str(dest),
        "--binary",
        "tailscale",
        "--layout",
        "flat",
        "--cache",
        str(tmp_path / "c"),
    ]
    assert artifact.main(args) == 0
    assert (dest / "tailscaled").read_bytes() == b"tsd"
    assert (dest / ".llmfleet-artifact").read_text().strip() == sha(data)


def test_install_listed_refuses_a_listed_file_that_does_not_match(served, tmp_path: Path) -> None:
    root, base = served
    (root / "tailscale_1.78.1_amd64.tgz").write_bytes(b"tampered")
    (root / "SHA256SUMS").write_text(f"{sha(b'original')}  tailscale_1.78.1_amd64.tgz\n")
    dest = tmp_path / "t"
    args = [
        "install-listed",
        base + "SHA256SUMS",
        "tailscale_1.78.1_amd64.tgz",
        str(dest),
        "--binary",
        "tailscale",
        "--cache",
        str(tmp_path / "c"),
    ]
    assert artifact.main(args) == 3
    assert not dest.exists()


def test_install_listed_needs_exactly_one_match(served, tmp_path: Path) -> None:
    root, base = served
    (root / "SHA256SUMS").write_text(f"{sha(b'a')}  a-tailscale_1.78.1_amd64.tgz\n{sha(b'b')}  b-tailscale_1.78.1_amd64.tgz\n")
    args = ["install-listed", base + "SHA256SUMS", "tailscale_1.78.1_amd64.tgz", str(tmp_path / "t"), "--binary", "tailscale"]
    assert artifact.main(args) == 5


def test_rollback_waits_where_the_previous_configuration_was_ready(gw) -> None:
    cfg, _env, snap, setup = gw
    cfg.write_text("good")
    rt = setup({"good"})
    urls: list[str] = []
    inner = rt.wait
    gateway_helper.wait = lambda url, *a: urls.append(url) or inner(url, *a)  # type: ignore[assignment]
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg)])
    assert gateway_helper.main(["apply", "--snapshot", str(snap), "--url", "http://127.0.0.1:4000/r", "--unit", "litellm.service"]) == 0
    gateway_helper.main(["snapshot", "--snapshot", str(snap), str(cfg)])
    cfg.write_text("broken on another port")
    assert (
        gateway_helper.main(
            ["apply", "--snapshot", str(snap), "--url", "http://127.0.0.1:22/r", "--timeout", "1", "--unit", "litellm.service"]
        )
        == 1
    )
    assert urls == ["http://127.0.0.1:4000/r", "http://127.0.0.1:22/r", "http://127.0.0.1:4000/r"]
    assert cfg.read_text() == "good"
