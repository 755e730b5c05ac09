"""What every ``llmfleet`` command shares: the inventory argument and options, one loader, one error format.

Each command that reads an inventory declares ``inventory: InventoryArg, env: EnvOpt = None,
overlay: OverlayOpt = None`` and loads it with :func:`load_or_exit` (or, where the command must
still write a report before it stops, :func:`try_load`). Problems are printed one per line as
``file:line: field: message`` (all of them at once), followed by one summary line; exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from llmfleet.inventory import InventoryError, Loaded, Problem, load, overlay_for
from llmfleet.inventory.problems import errors

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

InventoryArg = Annotated[Path, typer.Argument(help="Inventory file, e.g. inventories/prod.yml.", show_default=False)]
EnvOpt = Annotated[str | None, typer.Option("--env", metavar="ENV", help="Merge the overlay <inventory>.<ENV>.yml over the inventory.")]
OverlayOpt = Annotated[Path | None, typer.Option("--overlay", metavar="FILE", help="Merge this overlay file over the inventory.")]


def print_problems(problems: list[Problem]) -> None:
    """Every problem on its own line (``file:line: field: message``), on stderr."""
    for p in problems:
        err.print(str(p), markup=False)


def summary(problems: list[Problem], what: str = "inventory") -> str:
    """``N error(s) in the <what>``."""
    n = len(errors(problems))
    return f"{n} error{'s' if n != 1 else ''} in the {what}"


def fail(problems: list[Problem], what: str = "inventory") -> NoReturn:
    """Print every problem and exit 2."""
    print_problems(problems)
    err.print(f"{summary(problems, what)}; nothing was written.", markup=False)
    raise typer.Exit(2)


def try_load(inventory: Path, env: str | None = None, overlay: Path | None = None) -> Loaded | list[Problem]:
    """Load ``inventory`` with its overlay (``--env`` names ``<inventory>.<ENV>.yml``): the result, or every problem."""
    if env and overlay:
        return [Problem((), "use either --env or --overlay, not both", file=str(inventory))]
    overlay = selected_overlay(inventory, env, overlay)
    if env and overlay is not None and not overlay.exists():
        return [Problem((), f"no overlay for environment '{env}' (expected {overlay})", file=str(inventory))]
    try:
        return load(inventory, overlay)
    except InventoryError as exc:
        return exc.problems


def selected_overlay(inventory: Path, env: str | None, overlay: Path | None) -> Path | None:
    """The overlay file ``--env ENV`` (``<inventory>.<ENV>.yml``) or ``--overlay FILE`` names; ``None`` without either."""
    return overlay_for(inventory, env) if env else overlay


def load_or_exit(inventory: Path, env: str | None = None, overlay: Path | None = None) -> Loaded:
    """Load an inventory (with its overlay), printing warnings; exit 2 listing all errors."""
    loaded = try_load(inventory, env, overlay)
    if isinstance(loaded, list):
        fail(loaded)
    for warning in loaded.warnings:
        err.print(str(warning), markup=False)
    return loaded
