"""A seed fleet on the lab: ``inventories/<seed>.yml`` + its lab overlay + the lab mirror's artifact pins.

``inventories/<seed>.lab.yml`` (the ``lab`` environment of the seed, ``llmfleet validate
inventories/<seed>.yml --env lab``) maps the seed's hosts onto lab addresses, its local models onto
the tiny GGUF (or the Ollama of the lab) and its downloads onto the lab mirror, and says in its
header what it had to change and why. :func:`prepare_seed` builds the mirror for the merged
inventory, and writes ``<workdir>/lab.overlay.yml``: the seed's lab overlay with the mirror's
pins merged in (the loader takes one overlay), which the deploy, testinfra and the checks use.

Secrets: the master key as in :func:`fleetlab.demo.master_key`; every other secret the gateway
needs is generated once per work directory (``<workdir>/secrets/<NAME>``, 0600), cloud API keys
included: the lab has no internet, so no cloud provider is ever reached, and :func:`cloud_models`
lists the models the checks report as skipped for that reason — unless the overlay points a cloud
model at the lab's STAND-IN for the internet (:mod:`fleetlab.cloudstandin`), which answers it.

:func:`lab_infrastructure` provides, before the deploy, what the seed's operators run outside the
fleet: those stand-ins, and an external Redis at a fleet host's mesh IP (:mod:`fleetlab.labredis`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from fleetlab.hosts import LabFleet
from llmfleet.inventory import load_inventory
from llmfleet.inventory.model import Host, Inventory
from llmfleet.render.context import compose_view, gateway_secrets

__all__ = [
    "SEEDS",
    "check_concurrency",
    "cloud_models",
    "discovery",
    "first_chat",
    "gateway_url",
    "lab_infrastructure",
    "lab_secrets",
    "merge_overlays",
    "prepare_seed",
    "request_from_host",
    "seed_files",
]

REPO = Path(__file__).resolve().parents[1]
SEEDS = ("pip", "nova-hybrid", "netbox-chatbox", "mobius-one", "nova-litellm")
CLOUD_SKIP_REASON = "cloud provider {provider}: the lab has no internet; the real LiteLLM on the lab gateway loaded its config"


class DiscoveryFailed(RuntimeError):
    """The gateway's /v1/models could not be read; the message says why (never the key)."""


def seed_files(seed: str) -> tuple[Path, Path, Path]:
    """(inventory, lab overlay, pyinfra inventory) of ``seed``."""
    inv = REPO / "inventories" / f"{seed}.yml"
    return inv, REPO / "inventories" / f"{seed}.lab.yml", REPO / "inventories" / f"{seed}.py"


def merge_overlays(base: Any, over: Any) -> Any:
    """Merge two overlays the way the loader merges an overlay over an inventory (named lists by ``name``)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge_overlays(base[key], value) if key in base else value
        return out

    def named(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(x, dict) and "name" in x for x in value)

    if named(base) and named(over):
        out_list = list(base)
        index = {item["name"]: i for i, item in enumerate(base)}
        for item in over:
            if item["name"] in index:
                out_list[index[item["name"]]] = merge_overlays(base[index[item["name"]]], item)
            else:
                out_list.append(item)
        return out_list
    return over


def prepare_seed(seed: str, workdir: Path, *, extra_overlay: Path | None = None, log=print) -> tuple[Inventory, Path]:
    """Build the mirror for ``seed`` on the lab and write the combined overlay; return (inventory, overlay).

    ``extra_overlay``: merged over the lab overlay (a test's own settings, e.g. a lower rpm).
    """
    from fleetlab.labredis import APT_PACKAGES as REDIS_APT
    from fleetlab.labredis import lab_redis
    from fleetlab.mirror import LAB_APT_PACKAGES, build_mirror, write_overlay

    inventory, lab_overlay, _ = seed_files(seed)
    if not lab_overlay.is_file():
        raise FileNotFoundError(f"{seed} has no lab overlay ({lab_overlay})")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    layers = [lab_overlay] + ([Path(extra_overlay)] if extra_overlay else [])
    merged = yaml.safe_load(lab_overlay.read_text())
    seed_overlay = lab_overlay
    for layer in layers[1:]:
        merged = merge_overlays(merged, yaml.safe_load(layer.read_text()))
        seed_overlay = workdir / "lab.seed-overlay.yml"
        seed_overlay.write_text(yaml.safe_dump(merged, sort_keys=False))
    loose = load_inventory(inventory, seed_overlay)  # every rule checked, lab mapping included
    apt = LAB_APT_PACKAGES + (REDIS_APT if lab_redis(loose) else ())
    manifest = build_mirror(workdir / "mirror", loose, apt_packages=apt, log=log)
    pins = write_overlay(workdir / "lab.artifacts.yml", loose, manifest)
    combined = merge_overlays(merged, yaml.safe_load(pins.read_text()))
    out = workdir / "lab.overlay.yml"
    out.write_text(
        f"# GENERATED by fleetlab.seedlab: {' + '.join(p.name for p in layers)} + the lab mirror's pins. Do not edit, do not commit.\n"
        + yaml.safe_dump(combined, sort_keys=False)
    )
    return load_inventory(inventory, out), out


def lab_infrastructure(fleet: LabFleet, inv: Inventory, workdir: Path, *, log=print) -> None:
    """What the seed's operators run outside the fleet, provided by the lab before the deploy:
    the STAND-IN for the internet (:mod:`fleetlab.cloudstandin`) and an external Redis (:mod:`fleetlab.labredis`)."""
    from fleetlab import cloudstandin, labredis

    values = lab_secrets(inv, workdir)
    cloudstandin.start(inv, workdir, values, log=log)
    labredis.provide_redis(fleet, inv, values, log=log)


def lab_secrets(inv: Inventory, workdir: Path) -> dict[str, str]:
    """Values for every secret the gateway needs except the master key (operator's environment first)."""
    out = {}
    skip = inv.gateway.master_key.env_name
    for var in gateway_secrets(inv):
        if var.name == skip:
            continue
        if os.environ.get(var.name):
            out[var.name] = os.environ[var.name]
            continue
        path = Path(workdir) / "secrets" / var.name
        if not path.is_file():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"lab-{secrets.token_hex(20)}\n")
        out[var.name] = path.read_text().strip()
    return out


def cloud_models(inv: Inventory) -> dict[str, str]:
    """Models served by a cloud provider, with the reason the lab checks skip them.

    A cloud model whose ``api_base`` is the lab's stand-in for the internet (:mod:`fleetlab.cloudstandin`)
    answers in the lab and is checked, not skipped.
    """
    from fleetlab.cloudstandin import standins

    served = {s.model for s in standins(inv)}
    return {m.name: CLOUD_SKIP_REASON.format(provider=m.provider) for m in inv.models if m.backend is None and m.name not in served}


def _tunnelled(inv: Inventory, gw_host: Host) -> bool:
    """Whether this machine reaches the gateway only through SSH: it listens on loopback, or it is a
    compose gateway on a bridge network, whose published port (podman 4.3 + netavark 1.4) answers the
    host itself but not this machine (nova-litellm's discovery timed out; readiness on the host answered)."""
    gw = inv.gateway
    if gw.bind in ("127.0.0.1", "::1", "localhost"):
        return True
    return gw.runtime == "compose" and not compose_view(inv, gw_host).host_network


@contextlib.contextmanager
def gateway_url(fleet: LabFleet, inv: Inventory) -> Iterator[str | None]:
    """The gateway's base URL as seen from this machine: None (the inventory's own URL) unless the
    gateway listens on loopback only or sits behind podman's port forward (:func:`_tunnelled`); then
    an SSH tunnel to it (what an operator on another machine does)."""
    gw_host = inv.hosts_with("gateway")[0]
    if not _tunnelled(inv, gw_host):
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tunnel = subprocess.Popen(
        [
            "ssh",
            "-F",
            str(fleet.ssh_config),
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            f"127.0.0.1:{port}:{inv.gateway.local_address}:{inv.gateway.port}",
            gw_host.name,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and tunnel.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)


def discovery(base_url: str, inv: Inventory, master_key: str) -> dict[str, Any]:
    """``GET /v1/models`` through the gateway: every inventory model must be listed (cloud ones included)."""
    try:
        resp = httpx.get(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {master_key}"}, timeout=60)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise DiscoveryFailed(f"GET {base_url}/v1/models: {type(exc).__name__}: {exc}") from None
    listed = sorted(m["id"] for m in resp.json().get("data", []))
    wanted = sorted(m.name for m in inv.models)
    return {"listed": listed, "wanted": wanted, "missing": sorted(set(wanted) - set(listed))}


def check_concurrency(inv: Inventory) -> int | None:
    """``llmfleet check --concurrency`` for a seed fleet: 1 when an Ollama backend serves more local models
    than it keeps loaded (``max_loaded_models``), else None (the default).

    Checked at once, such models evict each other on every request, and the warm latency samples would
    time model reloads; one model after the other is how a user who switches models meets them.
    """
    for b in inv.backends:
        if b.ollama is not None and b.ollama.max_loaded_models and len(inv.models_on(b.name)) > b.ollama.max_loaded_models:
            return 1
    return None


def first_chat(base_url: str, inv: Inventory, master_key: str, *, timeout: float = 300.0) -> dict[str, Any] | None:
    """One chat request through the gateway to the first local chat model (None when every chat model is cloud).

    Returns the model and the answer's first characters; raises :class:`DiscoveryFailed` when no answer
    comes back (the caller times it: the time to the first chat answer).
    """
    skipped = cloud_models(inv)
    model = next((m.name for m in inv.models if m.mode == "chat" and m.name not in skipped), None)
    if model is None:
        return None
    body = {"model": model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}
    try:
        resp = httpx.post(f"{base_url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {master_key}"}, timeout=timeout)
        resp.raise_for_status()
        answer = resp.json()["choices"][0]["message"].get("content") or ""
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        raise DiscoveryFailed(f"POST {base_url}/v1/chat/completions ({model}): {type(exc).__name__}: {exc}") from None
    return {"model": model, "answer": answer[:80]}


#: Runs in a lab host's network namespace (this machine's python): one HTTP request, the answer as JSON.
_REQUEST = r"""
import json, os, sys, time, urllib.error, urllib.request
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
headers = {"Content-Type": "application/json"}
if os.environ.get("LAB_BEARER"):
    headers["Authorization"] = "Bearer " + os.environ["LAB_BEARER"]
req = urllib.request.Request(url, body.encode() if body else None, headers, method=method)
t0 = time.monotonic()
try:
    with urllib.request.urlopen(req, timeout=float(sys.argv[4])) as resp:
        status, hdrs, text = resp.status, dict(resp.headers), resp.read().decode(errors="replace")
except urllib.error.HTTPError as exc:
    status, hdrs, text = exc.code, dict(exc.headers), exc.read().decode(errors="replace")
print(json.dumps({"status": status, "headers": {k.lower(): v for k, v in hdrs.items()}, "body": text, "seconds": time.monotonic() - t0}))
"""


def request_from_host(
    fleet: LabFleet, host: str, method: str, url: str, *, key: str | None = None, body: Any = None, timeout: float = 300.0
) -> dict[str, Any]:
    """One HTTP request from ``host``'s vantage point (its network namespace): status, headers (lower-case), body, seconds.

    ``key`` travels in the environment of the process, never on its command line.
    """
    argv = [sys.executable, "-c", _REQUEST, method, url, "" if body is None else json.dumps(body), str(timeout)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **({"LAB_BEARER": key} if key else {})}
    out = fleet.run_from_host_net(host, argv, timeout=timeout + 30, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{method} {url} from {host}: exit {out.returncode}: {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout)
