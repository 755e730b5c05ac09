"""Container images loaded from pinned archives (air-gapped: the engine never pulls).

:func:`loaded` downloads a ``docker save`` archive (its URL or the mirror's), verifies its SHA-256
with the artifact helper, ``docker load``\\ s it and checks the loaded image's ID against the
inventory's ``image_id`` when it pins one. A no-op when the engine already holds the reference
with the pinned ID (or, without a pinned ID, at all). The archive is removed once loaded: the
engine's storage keeps the image.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from llmfleet.deploy.facts.docker import ImageId
from llmfleet.inventory.model import ImageArchive
from llmfleet.layout import ARTIFACT_CACHE, ARTIFACT_HELPER


@operation()
def loaded(archive: ImageArchive, url: str):
    """Make the engine hold ``archive.ref`` (with ``archive.image_id`` when pinned), loading the archive if not."""
    have = host.get_fact(ImageId, ref=archive.ref)
    if have and (archive.image_id is None or have == archive.image_id):
        host.noop(f"image {archive.ref} is loaded ({have[:19]})")
        return
    dest = f"{ARTIFACT_CACHE}/{archive.filename}"
    yield StringCommand("python3", ARTIFACT_HELPER, "fetch", QuoteString(url), archive.sha256, QuoteString(dest), "--mode", "0600")
    yield StringCommand("docker", "load", "-i", QuoteString(dest))
    yield StringCommand("rm", "-f", QuoteString(dest), QuoteString(dest + ".llmfleet-sha256"))
    got = f"$(docker image inspect --format '{{{{.Id}}}}' {QuoteString(archive.ref).obj} 2>/dev/null | sed 's/^sha256://')"
    if archive.image_id:
        want = archive.image_id.removeprefix("sha256:")
        yield (
            f'got={got}; [ "$got" = {want} ] || '
            f'{{ echo "error: the archive of {archive.ref} loaded image ID sha256:$got, the inventory pins sha256:{want}" >&2; exit 1; }}'
        )
    else:
        yield f'got={got}; [ -n "$got" ] || {{ echo "error: the archive of {archive.ref} holds no image of that name" >&2; exit 1; }}'
