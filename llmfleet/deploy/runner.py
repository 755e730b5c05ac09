"""``llmfleet deploy``: run pyinfra on a fleet from an installed llmfleet (no repository checkout needed).

The command writes two small files into a temporary directory — a pyinfra inventory that builds the
fleet's groups with :func:`llmfleet.deploy.inventory.file_groups`, and a deploy file that runs
:func:`llmfleet.deploy.site.apply` — and runs ``python -P -m pyinfra`` on them with the operator's
arguments. pyinfra's own progress, prompts, ``--dry`` plan and exit code come through unchanged.
The environment the inventory adapter reads (``LLMFLEET_SSH_KEY``, ``LLMFLEET_SSH_STRICT``, ...) and
the fleet's secrets pass to pyinfra as they are; the overlay comes from ``--env``/``--overlay`` only.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

INVENTORY_FILE = '''"""pyinfra inventory of fleet {fleet}, written by `llmfleet deploy`."""
from pathlib import Path

from llmfleet.deploy.inventory import file_groups

all, gateway, gpu, headscale = file_groups(Path({path!r}), {overlay})
'''
SITE_FILE = '''"""The whole-fleet deploy of llmfleet (llmfleet.deploy.site), written by `llmfleet deploy`."""
from llmfleet.deploy.site import apply

apply()
'''


def pyinfra_files(workdir: Path, fleet: str, inventory: Path, overlay: Path | None) -> tuple[Path, Path]:
    """Write the pyinfra inventory and deploy file of ``fleet`` into ``workdir``; return their paths."""
    overlay_expr = f"Path({str(overlay.resolve())!r})" if overlay else "None"
    inventory_file = workdir / f"{fleet}.py"  # pyinfra names the inventory's group after the file
    inventory_file.write_text(INVENTORY_FILE.format(fleet=fleet, path=str(inventory.resolve()), overlay=overlay_expr), encoding="utf-8")
    site_file = workdir / "site.py"
    site_file.write_text(SITE_FILE, encoding="utf-8")
    return inventory_file, site_file


def pyinfra_command(inventory_file: Path, site_file: Path, *, dry: bool, args: Sequence[str] = ()) -> list[str]:
    """The pyinfra command line: ``--dry`` becomes pyinfra's ``--dry --diff`` (the plan, with the diff of every rendered file)."""
    # -P: the working directory is not put first on sys.path, so a checkout there cannot shadow the installed llmfleet.
    return [sys.executable, "-P", "-m", "pyinfra", str(inventory_file), str(site_file), *(["--dry", "--diff"] if dry else []), *args]


def run_deploy(fleet: str, inventory: Path, overlay: Path | None, *, dry: bool = False, args: Sequence[str] = ()) -> int:
    """Run pyinfra on the fleet and return its exit code (130 when interrupted)."""
    with tempfile.TemporaryDirectory(prefix="llmfleet-deploy-") as tmp:
        inventory_file, site_file = pyinfra_files(Path(tmp), fleet, inventory, overlay)
        try:
            return subprocess.call(pyinfra_command(inventory_file, site_file, dry=dry, args=args))
        except KeyboardInterrupt:
            return 130
