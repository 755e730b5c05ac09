"""The ``llmfleet`` command line: schema, validate, render, deploy, import, check, health.

Exit codes: 0 success; 1 a check failed or a rendered tree is stale; 2 bad input (every problem
is listed, with file, line and field; no traceback, nothing half-written).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from llmfleet.checks.cli import check_command, health_command
from llmfleet.cliargs import EnvOpt, InventoryArg, OverlayOpt, err, fail, load_or_exit, out, selected_overlay
from llmfleet.inventory import dump_json_schema
from llmfleet.inventory.problems import Problem, errors

app = typer.Typer(
    name="llmfleet",
    help="Deployment-as-code for self-hosted LLM gateways: one typed inventory → validated configs → deploy → checks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Turn existing configs into an llmfleet inventory, reporting their mistakes.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the inventory's JSON Schema (for yaml-language-server completion in editors)."""
    text = json.dumps(dump_json_schema(), indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


@app.command()
def validate(inventory: InventoryArg, env: EnvOpt = None, overlay: OverlayOpt = None) -> None:
    """Load + cross-check the inventory, render every file in memory and validate the results."""
    loaded = load_or_exit(inventory, env, overlay)
    from llmfleet.inventory.advisories import advisory_problems
    from llmfleet.render import render_fleet, validate_rendered

    for warning in advisory_problems(loaded.inventory):
        err.print(str(warning.located(*loaded.locate(warning.path))), markup=False)
    files = render_fleet(loaded.inventory)
    problems = validate_rendered(files, loaded.inventory)
    for p in problems:
        if p.severity == "warning":
            err.print(str(p), markup=False)
    if errors(problems):
        fail(problems, "rendered files")
    inv = loaded.inventory
    out.print(
        f"{inventory}: fleet {inv.fleet} is valid — {len(inv.hosts)} hosts, {len(inv.backends)} backends, "
        f"{len(inv.models)} models, {len(inv.routing.groups)} groups; {len(files)} files render cleanly.",
        markup=False,
    )


@app.command()
def render(
    inventory: InventoryArg,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write the rendered tree here (swapped in atomically).")] = None,
    check_dir: Annotated[Path | None, typer.Option("--check", help="Exit 1 with a unified diff when this rendered tree is stale.")] = None,
    env: EnvOpt = None,
    overlay: OverlayOpt = None,
) -> None:
    """Render every host's files from the inventory (deterministic, byte-identical across runs)."""
    if (out_dir is None) == (check_dir is None):
        err.print("give exactly one of --out DIR or --check DIR")
        raise typer.Exit(2)
    loaded = load_or_exit(inventory, env, overlay)
    from llmfleet.render import diff_tree, render_fleet, validate_rendered, write_tree

    files = render_fleet(loaded.inventory)
    problems = validate_rendered(files, loaded.inventory)
    if errors(problems):
        fail(problems, "rendered files")
    if check_dir is not None:
        diff = diff_tree(files, check_dir)
        if diff:
            sys.stdout.write(diff)
            err.print(f"{check_dir} is stale: run `llmfleet render {inventory} --out {check_dir}`", markup=False)
            raise typer.Exit(1)
        out.print(f"{check_dir} is up to date ({len(files)} files).", markup=False)
        return
    assert out_dir is not None
    from llmfleet.render.output import OutputError

    try:
        write_tree(files, out_dir)
    except (OutputError, OSError) as exc:
        reason = str(exc) if isinstance(exc, OutputError) else f"cannot write {out_dir}: {exc.strerror or exc}"
        fail([Problem((), reason)], "output directory")
    print_tree(out_dir, files)


def print_tree(out_dir: Path, files: list) -> None:
    """Summarise a rendered tree per host: each file and where it goes on the host."""
    out.print(f"Rendered {len(files)} files into {out_dir}/", markup=False)
    for host in sorted({f.host for f in files}):
        out.print(f"  {host}", markup=False)
        for f in (f for f in files if f.host == host):
            out.print(f"    {f.relpath.split('/', 1)[1]:<42} → {f.dest}", markup=False)


@app.command()
def audit(inventory: InventoryArg, env: EnvOpt = None, overlay: OverlayOpt = None) -> None:
    """List every pinned program with the known advisories that match it (exit 2 when one is refused)."""
    from llmfleet.audit import audit_lines

    loaded = load_or_exit(inventory, env, overlay)  # a refused pin is a load error: listed with its line, exit 2
    for line in audit_lines(inventory, loaded):
        out.print(line, markup=False)


@import_app.command("litellm")
def import_litellm_cmd(
    config: Annotated[Path, typer.Argument(help="An existing LiteLLM proxy config.yaml.", show_default=False)],
    compose: Annotated[Path | None, typer.Option("--compose", help="The docker-compose.yml that runs it.")] = None,
    units: Annotated[
        list[Path] | None, typer.Option("--unit", help="A systemd unit of a model server (Ollama, llama.cpp); repeatable.")
    ] = None,
    fleet: Annotated[str, typer.Option("--fleet", help="Name of the new fleet.")] = "imported",
    output: Annotated[Path | None, typer.Option("--out", help="Write the draft inventory here (default: stdout).")] = None,
) -> None:
    """Turn a LiteLLM config (and its compose file) into a draft inventory; report each mistake with its fix.

    Exit 0 when nothing is wrong, 1 when findings were reported, 2 when the input cannot be read.
    """
    from llmfleet.importer import ImportInputError, format_findings, import_litellm

    try:
        result = import_litellm(config, compose, fleet=fleet, unit_paths=tuple(units or ()))
    except ImportInputError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if output is None:
        sys.stdout.write(result.inventory_yaml)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(result.inventory_yaml, encoding="utf-8")
        err.print(f"wrote draft inventory {output}", markup=False)
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    if result.todos:
        err.print(f"{len(result.todos)} placeholder(s) marked TODO in the draft must be filled in before it validates.", markup=False)
    if result.findings:
        err.print(format_findings(result.findings), markup=False)
        err.print(f"{len(result.findings)} finding(s): fix them in the draft before deploying.", markup=False)
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def deploy(
    ctx: typer.Context,
    inventory: InventoryArg,
    dry: Annotated[bool, typer.Option("--dry", help="Show what would change (pyinfra --dry --diff); change nothing.")] = False,
    env: EnvOpt = None,
    overlay: OverlayOpt = None,
) -> None:
    """Deploy the fleet with pyinfra (the packaged site deploy); further arguments go to pyinfra (-y, --limit HOST, -v, --json, ...).

    The inventory is loaded and checked first: a bad one stops with every problem and exit 2 before any
    host is contacted. Then pyinfra runs with its own progress and prompts; its exit code is this command's.
    """
    loaded = load_or_exit(inventory, env, overlay)
    from llmfleet.deploy.runner import run_deploy

    raise typer.Exit(run_deploy(loaded.inventory.fleet, inventory, selected_overlay(inventory, env, overlay), dry=dry, args=ctx.args))


app.command("check")(check_command)
app.command("health")(health_command)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
