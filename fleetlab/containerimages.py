"""Container images for the compose runtime, built offline: no registry is reachable from the lab.

Each image is a Debian bookworm root built with ``mmdebstrap`` from Debian's packages (this
machine's sources, security and updates suites included; plus, for
LiteLLM, the pinned wheelhouse of :mod:`fleetlab.wheelhouse`, installed hash-checked into a venv),
imported with ``podman import`` (entrypoint, environment and working directory set with
``--change``) into a private podman storage, and saved as a ``docker-archive`` tarball: the file
an air-gapped operator carries to the gateway and ``docker load``\\ s. The lab mirror serves the
tarballs; the deploy downloads each one, verifies its SHA-256 and loads it
(:mod:`llmfleet.deploy.operations.images`).

The images are named for what they are, not for the upstream images they replace:
``localhost/llmfleet-lab/litellm:main-v<version>`` (LiteLLM from the wheelhouse, the same version
the inventory pins) and ``localhost/llmfleet-lab/redis:debian-bookworm`` (Debian's redis-server,
not the official ``redis`` image: Debian's 7.0.15 with Debian's security patches, e.g. deb12u6
fixes CVE-2025-49844, so its tag is not an upstream Redis version the advisory table could judge).
The lab inventory pins these names; ``image.json`` records the Debian package versions.

Built once into ``${LLMFLEET_CACHE}/lab-images/<name>-<key>/`` (``image.tar`` + ``image.json``
with the reference, the image ID and the archive's SHA-256); ``<key>`` hashes the recipe.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fleetlab.cachebuild import built_once
from fleetlab.image import DEBIAN_SOURCES, SUITE, debian_mirror
from fleetlab.programs import cache_dir

__all__ = ["BuiltImage", "ImageBuildError", "ImageRecipe", "ensure_image", "litellm_recipe", "redis_recipe"]

#: Bumped when the build procedure changes in a way the recipe key would not see.
BUILD_VERSION = 1
LITELLM_VENV = "/opt/litellm"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageBuildError(RuntimeError):
    """An image could not be built; the message has the failing tool's output."""


@dataclass(frozen=True)
class ImageRecipe:
    """How to build one image: Debian packages, mmdebstrap hooks, and the image's config."""

    name: str
    ref: str
    packages: tuple[str, ...]
    hooks: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = "/"
    #: Files whose content is part of the key (e.g. the wheelhouse's hash-pinned requirements).
    inputs: tuple[Path, ...] = field(default=())

    def key(self) -> str:
        """A short hash of everything that decides the image's content."""
        doc = {
            "suite": SUITE,
            "sources": debian_sources(),
            "ref": self.ref,
            "packages": sorted(self.packages),
            "hooks": self.hooks,
            "entrypoint": self.entrypoint,
            "cmd": self.cmd,
            "env": self.env,
            "workdir": self.workdir,
            "inputs": [hashlib.sha256(p.read_bytes()).hexdigest() for p in self.inputs],
            "v": BUILD_VERSION,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]

    def changes(self) -> list[str]:
        """``podman import --change`` instructions (Dockerfile syntax, JSON arrays)."""
        out = [f"WORKDIR {self.workdir}"]
        out += [f"ENV {k}={v}" for k, v in self.env]
        if self.entrypoint:
            out.append("ENTRYPOINT " + json.dumps(list(self.entrypoint)))
        if self.cmd:
            out.append("CMD " + json.dumps(list(self.cmd)))
        return out


@dataclass(frozen=True)
class BuiltImage:
    """A saved image: the docker-archive tarball, the reference inside it, its image ID and SHA-256."""

    archive: Path
    ref: str
    image_id: str
    sha256: str


def litellm_recipe(litellm_version: str, wheelhouse: Path, image: str = "localhost/llmfleet-lab/litellm") -> ImageRecipe:
    """LiteLLM ``litellm_version`` [proxy] in a venv, installed hash-checked from ``wheelhouse`` (no index)."""
    req = wheelhouse / "requirements-litellm.txt"
    hooks = (
        f'mkdir -p "$1/tmp/wheels" && cp -L {wheelhouse}/*.whl {req} "$1/tmp/wheels/"',
        f'chroot "$1" python3 -m venv {LITELLM_VENV}',
        f'chroot "$1" {LITELLM_VENV}/bin/pip install --quiet --no-cache-dir --no-index --require-hashes'
        " --find-links /tmp/wheels -r /tmp/wheels/requirements-litellm.txt",
        'rm -rf "$1/tmp/wheels" "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*',
        'mkdir -p "$1/app"',
    )
    return ImageRecipe(
        name=f"litellm-{litellm_version}",
        ref=f"{image}:main-v{litellm_version}",
        packages=("python3", "python3-venv"),
        hooks=hooks,
        entrypoint=(f"{LITELLM_VENV}/bin/litellm",),
        env=(("PATH", f"{LITELLM_VENV}/bin:{DEFAULT_PATH}"), ("PYTHONUNBUFFERED", "1")),
        workdir="/app",
        inputs=(req,),
    )


def redis_recipe(ref: str = "localhost/llmfleet-lab/redis:debian-bookworm") -> ImageRecipe:
    """Debian's ``redis-server`` (bookworm's current security update), tagged ``ref`` as the inventory pins it;
    ``/data`` owned by the ``redis`` user (the compose file runs it as that user)."""
    return ImageRecipe(
        name="redis",
        ref=ref,
        packages=("redis-server",),
        hooks=('mkdir -p "$1/data" && chroot "$1" chown redis:redis /data',),
        cmd=("redis-server", "--protected-mode", "no"),
        workdir="/data",
    )


def debian_sources(path: Path = DEBIAN_SOURCES) -> list[str]:
    """This machine's Debian sources as one-line entries (security and updates suites included, so an
    image gets Debian's current security updates); only the configured mirror is reachable here."""
    lines: list[str] = []
    for stanza in path.read_text().split("\n\n") if path.is_file() else []:
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in stanza.splitlines() if ln and not ln.startswith("#"))
        )
        if "deb" not in fields.get("Types", "").split():
            continue
        for uri in fields.get("URIs", "").split():
            lines += [f"deb {uri} {suite} {fields.get('Components', 'main')}" for suite in fields.get("Suites", "").split()]
    return lines or [f"deb {debian_mirror()} {SUITE} main"]


def _run(argv: Sequence[str], what: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise ImageBuildError(f"{what} failed (exit {proc.returncode}): {' '.join(argv[:3])} ...\n{proc.stderr[-3000:]}")
    return proc.stdout


def _versions(dpkg_query: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in dpkg_query.splitlines() if "=" in line)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _podman(storage: Path, runroot: Path) -> list[str]:
    return ["podman", "--root", str(storage), "--runroot", str(runroot), "--storage-driver", "vfs"]


def ensure_image(recipe: ImageRecipe, *, log=print) -> BuiltImage:
    """Return the saved image of ``recipe``, building it first if needed (Redis ~30 s, LiteLLM a few minutes)."""
    home = cache_dir() / "lab-images" / f"{recipe.name}-{recipe.key()}"

    def build(tmp: Path) -> None:
        for tool in ("mmdebstrap", "podman"):
            if shutil.which(tool) is None:
                raise ImageBuildError(f"{tool} is not installed: run `sudo bash tools/install-lab-tools.sh`")
        log(f"[lab] building the image {recipe.ref} (mmdebstrap: {' '.join(recipe.packages)}) ...")
        rootfs_tar = tmp / "rootfs.tar"
        argv = ["mmdebstrap", "--quiet", "--variant=minbase", "--format=tar", f"--include={','.join(recipe.packages)}"]
        argv += [f"--customize-hook={hook}" for hook in recipe.hooks]
        versions_hook = f"chroot \"$1\" dpkg-query -W -f '${{Package}}=${{Version}}\\n' {' '.join(recipe.packages)} > {tmp}/packages.txt"
        _run([*argv, f"--customize-hook={versions_hook}", SUITE, str(rootfs_tar), *debian_sources()], "mmdebstrap")
        rootfs_versions = (tmp / "packages.txt").read_text()
        runroot = Path(tempfile.mkdtemp(prefix="llmfleet-img-"))  # podman wants a short runroot path
        podman = _podman(tmp / "storage", runroot)
        try:
            changes = [a for c in recipe.changes() for a in ("--change", c)]
            image_id = _run([*podman, "import", *changes, str(rootfs_tar), recipe.ref], "podman import").strip().splitlines()[-1]
            _run([*podman, "save", "--format", "docker-archive", "-o", str(tmp / "image.tar"), recipe.ref], "podman save")
        finally:
            subprocess.run([*podman, "rmi", "--all", "--force"], capture_output=True)
            shutil.rmtree(runroot, ignore_errors=True)
            shutil.rmtree(tmp / "storage", ignore_errors=True)
            rootfs_tar.unlink(missing_ok=True)
        image_id = image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"
        info = {"ref": recipe.ref, "image_id": image_id, "sha256": _sha256(tmp / "image.tar"), "packages": _versions(rootfs_versions)}
        (tmp / "image.json").write_text(json.dumps(info, indent=2) + "\n")
        (tmp / "SHA256SUMS").write_text(f"{info['sha256']}  image.tar\n{_sha256(tmp / 'image.json')}  image.json\n")
        log(f"[lab] image {recipe.ref} built: {image_id[:19]}, {(tmp / 'image.tar').stat().st_size >> 20} MiB")

    done = built_once(home, build)
    info = json.loads((done / "image.json").read_text())
    return BuiltImage(done / "image.tar", info["ref"], info["image_id"], info["sha256"])
