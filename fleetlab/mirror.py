"""The lab's artifact mirror: every file a deploy downloads, served air-gapped and pinned by SHA-256.

``build_mirror(dir, inv)`` fills a directory (layout in README-lab.md):

* ``<model>.gguf`` for every llama.cpp backend: the tiny random-weight GGUF
  (:mod:`fleetlab.tiny_gguf`, deterministic recipe by file name);
* ``llama-server-<version>-lab-linux-x86_64.tar.gz``: the locally built ``llama-server`` (flat
  archive: ``llama-server`` at the top; needs ``libgomp1`` from apt, like llama.cpp's releases);
* the real Headscale and Tailscale, built here from their Go modules (``make go-programs``) and
  served under the names of the upstream release files: ``headscale_<v>_linux_amd64`` (one bare
  executable) and ``tailscale_<v>_amd64.tgz`` (``tailscale_<v>_amd64/{tailscale,tailscaled}``);
* the STAND-INs (:mod:`fleetlab.standins`), each named ``standin-...`` and shaped like the real
  release artifact:
  ``standin-nvidia-smi.tar.gz`` (``nvidia-smi``);
* ``wheels/``: LiteLLM and its dependencies as wheels (:mod:`fleetlab.wheelhouse`) plus
  ``wheels/requirements-litellm.txt`` with every wheel's hash (``pip --require-hashes``);
* ``debian/``: a flat apt repository with the .debs a deploy installs (:mod:`fleetlab.aptrepo`);
* ``SHA256SUMS`` (every file) and ``manifest.json`` (what each artifact is for).

``write_overlay`` writes ``lab.artifacts.yml``, the inventory overlay that pins every artifact the
inventory model has a field for to the SHA-256 of the file the mirror serves; deploys of the lab
fleet run with ``--overlay`` of it. ``serve`` is the mirror's HTTP server (a threaded stdlib
server bound to the mirror address only).

CLI::

    python -m fleetlab.mirror build INVENTORY --workdir .lab   # mirror + overlay
    python -m fleetlab.mirror serve DIR --bind 10.231.0.1 --port 8099
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from fleetlab import aptrepo, composemirror, standins, wheelhouse
from fleetlab.image import ensure_base_image
from fleetlab.programs import ProgramMissing, cache_dir, go_release, llama_server_bin
from llmfleet.deploy.gateway import PODMAN_PACKAGES
from llmfleet.inventory.model import Inventory

__all__ = ["LAB_APT_PACKAGES", "MirrorError", "build_mirror", "prepare", "serve", "sha256_file", "write_overlay"]

#: Debian packages a deploy of the lab fleet installs, served by the mirror's apt repository.
LAB_APT_PACKAGES: tuple[str, ...] = ("python3-venv", "nftables", "libgomp1", "curl", "ca-certificates")
CHUNK = 1 << 20


class MirrorError(RuntimeError):
    """The mirror cannot be built; the message says why."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _llama_tarball(out: Path, version: str) -> None:
    binary = llama_server_bin()
    cached = cache_dir() / "lab-mirror" / f"llama-server-{sha256_file(binary)[:16]}.tar.gz"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        standins.deterministic_targz(tmp, {"llama-server": (binary.read_bytes(), 0o755)})
        tmp.rename(cached)
    _link(cached, out)


def _link(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same file system), else copy."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _atomic(out: Path, produce) -> None:
    """Run ``produce(tmp_path)`` and rename the result over ``out`` (a served file never looks half-written)."""
    tmp = out.with_name(f".{out.name}.tmp")
    produce(tmp)
    os.replace(tmp, out)


def _gguf(out: Path) -> None:
    from fleetlab.local import GGUF_RECIPES
    from fleetlab.tiny_gguf import EAGER_TOOL_CALL_BIAS, write_tiny_gguf

    recipe = GGUF_RECIPES.get(out.name)
    if recipe is None:
        raise MirrorError(f"{out.name} is not a lab model this machine can generate (known: {', '.join(GGUF_RECIPES)})")
    seed, template, eager = recipe
    _atomic(out, lambda tmp: write_tiny_gguf(tmp, seed=seed, template=template, tool_call_bias=EAGER_TOOL_CALL_BIAS if eager else None))


def build_mirror(directory: Path, inv: Inventory, *, apt_packages: tuple[str, ...] = LAB_APT_PACKAGES, log=print) -> dict[str, Any]:
    """Fill ``directory`` with every artifact of ``inv`` (see the module doc); return the manifest.

    Expensive parts (wheels, apt packages, the llama-server archive) are cached under
    ``${LLMFLEET_CACHE}/lab-mirror`` and hard-linked in, so a rebuild takes about a second.

    Raises:
        MirrorError: an artifact cannot be produced (unknown GGUF, no llama-server built, ...).
    """
    started = time.monotonic()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, dict[str, Any]] = {}

    def add(name: str, purpose: str, **extra: Any) -> None:
        artifacts[name] = {"purpose": purpose, **extra}

    for backend in inv.backends:
        if backend.llamacpp is not None:
            t = backend.llamacpp
            _gguf(directory / t.model.filename)
            add(t.model.filename, f"GGUF weights of backend {backend.name} (tiny random-weight lab model)", backend=backend.name)
            name = f"llama-server-{t.version}-lab-linux-x86_64.tar.gz"
            if name not in artifacts:
                _llama_tarball(directory / name, t.version)
                add(name, "llama.cpp llama-server (REAL, locally built, CPU only; flat archive; needs libgomp1)", backend=backend.name)
        if backend.ollama is not None:
            try:
                built = go_release("ollama", backend.ollama.version)
            except ProgramMissing as exc:
                raise MirrorError(str(exc)) from None
            _link(built, directory / built.name)
            add(
                built.name,
                f"Ollama {backend.ollama.version} (REAL, built here from its Go module, CPU only; bin/ollama)",
                backend=backend.name,
            )
        for model in inv.models:
            if model.ollama is not None and model.ollama.gguf is not None:
                gguf = model.ollama.gguf.filename
                if gguf not in artifacts:
                    _gguf(directory / gguf)
                    add(gguf, f"GGUF weights of Ollama model {model.name} (tiny random-weight lab model)", model=model.name)
    if inv.mesh is not None:
        for program, version in (("headscale", inv.mesh.headscale_version), ("tailscale", inv.mesh.tailscale_version)):
            try:
                built = go_release(program, version)
            except ProgramMissing as exc:
                raise MirrorError(str(exc)) from None
            _link(built, directory / built.name)
            add(built.name, f"{program.capitalize()} {version} (REAL, built here from its Go module; upstream release-archive layout)")
    _atomic(directory / "standin-nvidia-smi.tar.gz", standins.package_nvidia_smi)
    add("standin-nvidia-smi.tar.gz", "STAND-IN nvidia-smi: reports 'No devices were found' (the lab has no GPU)", standin=True)

    rootfs = ensure_base_image(log=log)
    if inv.hosts_with("gateway") and inv.gateway.runtime == "systemd-venv":
        wheels = wheelhouse.ensure_wheelhouse(inv.gateway.litellm_version, rootfs, callbacks=tuple(inv.gateway.logging.callbacks), log=log)
        _symlink(wheels, directory / "wheels")
        add(
            "wheels/requirements-litellm.txt",
            f"LiteLLM {inv.gateway.litellm_version} [proxy] wheels with prisma and callback packages, every hash pinned",
        )
    if composemirror.wants_compose(inv):
        artifacts.update(composemirror.add_compose_artifacts(directory, inv, rootfs, _link, log=log))
        if inv.gateway.engine.source == "debian-podman":
            apt_packages = (*apt_packages, *PODMAN_PACKAGES)
    repo = aptrepo.ensure_apt_repo(rootfs, apt_packages, log=log)
    _symlink(repo, directory / "debian")
    add("debian/Packages", f"flat apt repository: {' '.join(apt_packages)} and their dependencies missing from the base image")

    sums = _write_sums(directory)
    for name, info in artifacts.items():
        info["sha256"] = sums[name]
        info["size"] = (directory / name).stat().st_size
    manifest = {"artifacts": artifacts, "apt_packages": list(apt_packages)}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"[lab] mirror {directory}: {len(sums)} files in {time.monotonic() - started:.1f} s")
    return manifest


def _symlink(target: Path, link: Path) -> None:
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(target, target_is_directory=True)


def _write_sums(directory: Path) -> dict[str, str]:
    """Write ``SHA256SUMS`` over every served file (cached per-directory sums reused); return them."""
    sums: dict[str, str] = {}
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        cached = sub / "SHA256SUMS"
        if cached.is_file():  # wheels/ and debian/ come from the cache with their own sums
            for line in cached.read_text().splitlines():
                digest, name = line.split(maxsplit=1)
                sums[f"{sub.name}/{name.lstrip('*')}"] = digest
            sums[f"{sub.name}/SHA256SUMS"] = sha256_file(cached)
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name not in ("SHA256SUMS", "manifest.json") and not path.name.startswith("."):
            sums[path.name] = sha256_file(path)
    (directory / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))
    return sums


def write_overlay(path: Path, inv: Inventory, manifest: dict[str, Any]) -> Path:
    """Write the inventory overlay pinning ``inv``'s artifacts to what the mirror serves; return ``path``."""
    base = inv.artifacts.mirror or ""
    base = base if base.endswith("/") else base + "/"
    arts = manifest["artifacts"]

    def pin(name: str) -> dict[str, str]:
        return {"url": base + name, "sha256": arts[name]["sha256"]}

    backends = []
    for b in inv.backends:
        if b.llamacpp is not None:
            t = b.llamacpp
            section = {"binary": pin(f"llama-server-{t.version}-lab-linux-x86_64.tar.gz"), "model": pin(t.model.filename)}
            backends.append({"name": b.name, "llamacpp": section})
        elif b.ollama is not None:
            backends.append({"name": b.name, "ollama": {"binary": pin("ollama-linux-amd64.tgz")}})
    data: dict[str, Any] = {"backends": backends}
    if composemirror.wants_compose(inv):
        data["gateway"] = {"engine": {"images": composemirror.overlay_images(manifest, base)}}
    if inv.mesh is not None:
        data["mesh"] = {
            "headscale_binary": pin(f"headscale_{inv.mesh.headscale_version}_linux_amd64"),
            "tailscale_binary": pin(f"tailscale_{inv.mesh.tailscale_version}_amd64.tgz"),
        }
    header = (
        "# GENERATED by fleetlab.mirror for the lab fleet: do not edit, do not commit.\n"
        "# Pins every artifact of the lab inventory to the SHA-256 of the file the lab mirror serves\n"
        "# (a locally built llama-server and generated files cannot be pinned in the inventory itself).\n"
        "# Artifacts without an inventory field (wheels, apt) are in the mirror's manifest.json.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return path


def prepare(inventory_path: Path, workdir: Path, *, log=print) -> tuple[Inventory, Path]:
    """Build ``<workdir>/mirror`` and ``<workdir>/lab.artifacts.yml`` for an inventory file, then load
    the inventory with that overlay (all rules checked); return it and the overlay's path."""
    from llmfleet.inventory import load

    raw = yaml.safe_load(Path(inventory_path).read_text())
    loose = Inventory.model_validate(raw)  # schema only: the all-zero placeholders are replaced below
    workdir = Path(workdir).resolve()
    manifest = build_mirror(workdir / "mirror", loose, log=log)
    overlay = write_overlay(workdir / "lab.artifacts.yml", loose, manifest)
    return load(Path(inventory_path), overlay).inventory, overlay


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files; no Nagle (else +40 ms per response), log lines to stderr (the log file)."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")
        sys.stderr.flush()


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True


def serve(directory: Path, bind: str, port: int) -> None:
    """Serve ``directory`` on ``bind:port`` until killed (the lab starts it as a detached process)."""
    handler = functools.partial(_Handler, directory=str(directory))
    with _Server((bind, port), handler) as server:
        print(f"mirror: serving {directory} on http://{bind}:{port}/", file=sys.stderr, flush=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m fleetlab.mirror")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build <workdir>/mirror and <workdir>/lab.artifacts.yml")
    b.add_argument("inventory", type=Path)
    b.add_argument("--workdir", type=Path, default=Path(".lab"))
    s = sub.add_parser("serve", help="serve a mirror directory")
    s.add_argument("directory", type=Path)
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        serve(args.directory, args.bind, args.port)
        return 0
    _, overlay = prepare(args.inventory, args.workdir)
    print(overlay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
