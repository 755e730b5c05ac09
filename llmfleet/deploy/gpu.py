"""GPU hosts: NVIDIA driver (and container toolkit where containers run), Ollama, llama.cpp servers, firewall.

Backends bind to the host's mesh IP (rendered units and drop-in say where); the firewall admits
their ports only from the mesh interface and loopback, since Linux would otherwise accept a packet
for the mesh IP arriving on any interface.
"""

from __future__ import annotations

import hashlib

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import FindInFile
from pyinfra.facts.server import KernelVersion, LinuxDistribution
from pyinfra.operations import files, python, server, systemd

from llmfleet.deploy import common
from llmfleet.deploy.context import artifact_url, inventory, rendered, this_host
from llmfleet.deploy.facts.nvidia import NvidiaSmi, driver_branch
from llmfleet.deploy.operations import artifacts, dotenv, nvidia, ollama, packages, wait
from llmfleet.inventory.model import Backend, Host, Inventory
from llmfleet.layout import (
    FIREWALL_SERVICE,
    LLAMA_ROOT,
    MODELS_DIR,
    OLLAMA_HOME,
    OLLAMA_LINK,
    OLLAMA_ROOT,
    OLLAMA_SERVICE,
    OLLAMA_USER,
    SECRETS_DIR,
    WARMUP_DIR,
    llama_service,
)
from llmfleet.render import mesh_ports, modelfile_name

#: NVIDIA's CUDA repository key (id 3bf863cc) and the container toolkit's key.
CUDA_KEY_FINGERPRINT = "EB693B3035CD5710E231E123A4B469963BF863CC"
TOOLKIT_KEY_FINGERPRINT = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"


def needs_container_toolkit(inv: Inventory, me: Host) -> bool:
    """Containers run on this GPU host (the compose gateway) and should see its GPUs."""
    return me.gpu is not None and "gateway" in me.roles and inv.gateway.runtime == "compose"


@deploy("Install and verify the NVIDIA driver")
def nvidia_driver(me: Host, inv: Inventory) -> None:
    """The driver branch from the inventory (skipped when nvidia-smi already reports it), then verified."""
    gpu = me.gpu
    assert gpu is not None
    loaded = {driver_branch(g["driver_version"]) for g in host.get_fact(NvidiaSmi)}
    if loaded != {gpu.driver_branch}:
        if me.os == "ubuntu":
            wanted = [f"nvidia-driver-{gpu.driver_branch}-server", f"nvidia-utils-{gpu.driver_branch}-server"]
        else:
            distro = f"debian{(host.get_fact(LinuxDistribution) or {}).get('major') or 12}"
            repo = f"https://developer.download.nvidia.com/compute/cuda/repos/{distro}/x86_64/"
            common.apt_repository(
                "nvidia-cuda", f"{repo}3bf863cc.pub", "/etc/apt/keyrings/nvidia-cuda.asc", CUDA_KEY_FINGERPRINT, repo, "/", ""
            )
            wanted = [f"linux-headers-{host.get_fact(KernelVersion)}", f"cuda-drivers-{gpu.driver_branch}"]
        packages.apt_installed(name=f"Install the NVIDIA driver {gpu.driver_branch}", packages=wanted)
    if needs_container_toolkit(inv, me):
        common.docker_engine(me.os)
        repo = "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)"
        common.apt_repository(
            "nvidia-container-toolkit",
            "https://nvidia.github.io/libnvidia-container/gpgkey",
            "/etc/apt/keyrings/nvidia-container-toolkit.asc",
            TOOLKIT_KEY_FINGERPRINT,
            repo,
            "/",
            "",
        )
        packages.apt_installed(name="Install the NVIDIA container toolkit", packages=["nvidia-container-toolkit"])
        if not host.get_fact(FindInFile, path="/etc/docker/daemon.json", pattern="nvidia"):
            configured = server.shell(
                name="Register the NVIDIA runtime with Docker", commands=["nvidia-ctk runtime configure --runtime=docker"]
            )
            systemd.service(
                name="Restart Docker after the NVIDIA runtime was registered",
                service="docker.service",
                restarted=True,
                running=None,
                _if=configured.did_change,
            )
    nvidia.driver_verified(
        name=f"Verify nvidia-smi sees {gpu.count} GPU(s) on driver {gpu.driver_branch}", branch=gpu.driver_branch, count=gpu.count
    )


@deploy("Install and run Ollama")
def ollama_backend(me: Host, inv: Inventory, backend: Backend) -> None:
    """Pinned Ollama (sha256-verified) under its own user, the rendered drop-in, models pulled when missing."""
    t = backend.ollama
    assert t is not None
    server.group(name="Create the ollama group", group=OLLAMA_USER, system=True)
    server.user(
        name="Create the ollama user",
        user=OLLAMA_USER,
        group=OLLAMA_USER,
        home=OLLAMA_HOME,
        shell="/usr/sbin/nologin",
        system=True,
        create_home=True,
    )
    root = OLLAMA_ROOT.format(version=t.version)
    changes: list[OperationMeta] = []
    unpinned = f"backend {backend.name} has no ollama.binary (url + sha256)"
    install = common.install_pinned(inv, "Ollama", t.version, t.binary, root, "ollama", "tree", unpinned=unpinned, owner=backend.name)
    changes += [install] if install else []
    changes.append(files.link(name=f"Point {OLLAMA_LINK} at Ollama {t.version}", path=OLLAMA_LINK, target=f"{root}/bin/ollama"))
    if t.models_dir:
        files.directory(
            name=f"Create the Ollama model directory {t.models_dir}", path=t.models_dir, user=OLLAMA_USER, group=OLLAMA_USER, mode="750"
        )
    unit_files = [
        common.put_rendered(f, what)
        for f, what in (
            (rendered(me.name, f"systemd/{OLLAMA_SERVICE}"), "Ollama unit"),
            (rendered(me.name, f"systemd/{OLLAMA_SERVICE}.d/llmfleet.conf"), "Ollama drop-in"),
        )
        if f is not None
    ]
    common.unit_lifecycle(OLLAMA_SERVICE, "Ollama", unit_files, changes + unit_files)
    address = f"{inv.backend_bind_ip(backend)}:{backend.port}"
    wait.http_ready(name=f"Wait until Ollama answers on {address}", url=f"http://{address}/api/version", what="Ollama", timeout=120)
    models_file = rendered(me.name, "ollama/models.txt")
    if models_file is not None:
        common.put_rendered(models_file, "list of Ollama models")
        wanted = ollama.parse_models_file(models_file.content)
        for i, model in enumerate(wanted, 1):
            ollama.models_pulled(name=f"Pull Ollama model {model} if missing ({i}/{len(wanted)})", models=[model], address=address)
    for model in (m for m in inv.models_on(backend.name) if m.ollama is not None):
        src = model.ollama
        assert src is not None
        if src.pull is not None:
            ref = src.pull.reference(model.upstream)
            ollama.model_pulled_from(
                name=f"Pull Ollama model {model.upstream} from {ref} if missing" + (f" (digest {src.digest[:12]})" if src.digest else ""),
                model=model.upstream,
                reference=ref,
                address=address,
                insecure=src.pull.insecure,
                digest=src.digest,
            )
            continue
        assert src.gguf is not None
        modelfile = rendered(me.name, f"ollama/{modelfile_name(model.upstream)}")
        if modelfile is None:
            continue
        files.directory(name=f"Create the model directory {MODELS_DIR}", path=MODELS_DIR, user="root", group="root", mode="755")
        files.directory(name="Create the Modelfile directory", path=modelfile.dest.rsplit("/", 1)[0], user="root", group="root", mode="755")
        artifacts.fetch(
            name=f"Download {src.gguf.filename} for {model.upstream} (sha256 {src.gguf.sha256[:12]})",
            artifact=src.gguf,
            dest=f"{MODELS_DIR}/{src.gguf.filename}",
            url=artifact_url(inv, src.gguf),
            mode=0o644,
        )
        common.put_rendered(modelfile, f"Modelfile of {model.upstream}")
        ollama.model_created(
            name=f"Create Ollama model {model.upstream} from its GGUF if missing or its Modelfile changed"
            + (f" (digest {src.digest[:12]})" if src.digest else ""),
            model=model.upstream,
            modelfile=modelfile.dest,
            address=address,
            digest=src.digest,
            modelfile_sha256=hashlib.sha256(modelfile.content.encode()).hexdigest(),
        )
    warm_up(inv, backend, address)


def warm_up(inv: Inventory, backend: Backend, address: str) -> None:
    """Load the backend's models after deploy (a cold start can take seconds: the first client must
    not pay it) and report each cold load time; models beyond ``max_loaded_models`` stay cold."""
    t = backend.ollama
    assert t is not None
    warm, cold = ollama.warm_up_plan([m.upstream for m in inv.models_on(backend.name)], t.max_loaded_models)
    if not warm:
        return
    files.directory(name=f"Create the warm-up report directory {WARMUP_DIR}", path=WARMUP_DIR, user="root", group="root", mode="755")
    left = f"; {', '.join(cold)} stay cold (max_loaded_models {t.max_loaded_models})" if cold else ""
    report = f"{WARMUP_DIR}/{backend.name}.json"
    warmed = ollama.models_warm(
        name=f"Warm up {', '.join(warm)} (keep_alive {t.keep_alive}) and report the cold load time{left}",
        models=warm,
        address=address,
        keep_alive=str(t.keep_alive),
        report=report,
    )
    python.call(name=f"Report the cold load time of {', '.join(warm)}", function=ollama.print_warm_up, report=report, _if=warmed.did_change)


@deploy("Install and run a llama.cpp server")
def llamacpp_backend(me: Host, inv: Inventory, backend: Backend) -> None:
    """Pinned llama-server build, GGUF by URL + sha256, optional API key (0600), one unit per instance."""
    t = backend.llamacpp
    assert t is not None
    changes: list[OperationMeta] = []
    # llama.cpp's CPU backend links libgomp (OpenMP), which minimal images lack.
    packages.apt_installed(name="Install libgomp1 for llama-server", packages=["libgomp1"])
    unpinned = f"backend {backend.name} has no llamacpp.binary (url + sha256)"
    root = LLAMA_ROOT.format(version=t.version)
    install = common.install_pinned(inv, "llama-server", t.version, t.binary, root, "llama-server", unpinned=unpinned, owner=backend.name)
    changes += [install] if install else []
    files.directory(name=f"Create the model directory {MODELS_DIR}", path=MODELS_DIR, user="root", group="root", mode="755")
    changes.append(
        artifacts.fetch(
            name=f"Download {t.model.filename} (sha256 {t.model.sha256[:12]})",
            artifact=t.model,
            dest=f"{MODELS_DIR}/{t.model.filename}",
            url=artifact_url(inv, t.model),
            mode=0o644,
        )
    )
    if backend.api_key is not None:
        key = dotenv.SecretContent(backend.api_key)
        key.preflight()
        files.directory(name=f"Create the secrets directory {SECRETS_DIR}", path=SECRETS_DIR, user="root", group="root", mode="700")
        changes.append(
            dotenv.secret_file(
                name=f"Write the API key of {backend.name} (mode 0600)",
                dest=f"{SECRETS_DIR}/{backend.name}.key",
                content=key,
            )
        )
    unit_name = llama_service(backend.name)
    unit_file = rendered(me.name, f"systemd/{unit_name}")
    unit_files = [common.put_rendered(unit_file, f"{backend.name} unit")] if unit_file else []
    common.unit_lifecycle(unit_name, f"llama-server {backend.name}", unit_files, changes + unit_files)
    url = f"http://{inv.backend_bind_ip(backend)}:{backend.port}/health"
    wait.http_ready(
        name=f"Wait until llama-server {backend.name} has loaded its model", url=url, what=f"llama-server {backend.name}", timeout=300
    )


@deploy("Admit backend ports only over the mesh")
def firewall(me: Host) -> None:
    """The rendered nftables rules in their own table, loaded by the rendered oneshot unit (reapplied at boot)."""
    packages.apt_installed(name="Install nftables", packages=["nftables"])
    rules = rendered(me.name, "nftables/llmfleet.nft")
    unit = rendered(me.name, f"systemd/{FIREWALL_SERVICE}")
    if rules is None or unit is None:
        return
    rules_op = common.put_rendered(rules, "firewall rules")
    unit_op = common.put_rendered(unit, f"{FIREWALL_SERVICE} unit")
    common.unit_lifecycle(FIREWALL_SERVICE, "the llmfleet firewall", [unit_op], [rules_op, unit_op])


def apply() -> None:
    """Everything a ``gpu`` host runs, in order: driver, firewall, backends."""
    inv = inventory()
    me = this_host()
    if me.gpu is not None:
        nvidia_driver(me, inv)
    if mesh_ports(inv, me):
        firewall(me)
    for backend in inv.backends_on(me.name):
        if backend.kind == "ollama":
            ollama_backend(me, inv, backend)
        elif backend.kind == "llamacpp":
            llamacpp_backend(me, inv, backend)
