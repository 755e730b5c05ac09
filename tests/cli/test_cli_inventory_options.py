"""Every command that reads an inventory takes --env/--overlay and reports a bad inventory the same way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from llmfleet.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXTRA = {"render": ["--check", "nowhere"]}


def inventory_commands() -> list[str]:
    """The names of the commands whose first argument is an inventory."""
    group = typer.main.get_command(app)
    return sorted(name for name, cmd in group.commands.items() if any(p.name == "inventory" for p in cmd.params))  # type: ignore[attr-defined]


def test_every_inventory_command_has_env_and_overlay() -> None:
    group = typer.main.get_command(app)
    names = inventory_commands()
    assert {"validate", "render", "deploy", "check", "health"} <= set(names)
    for name in names:
        opts = {o for p in group.commands[name].params for o in p.opts}  # type: ignore[attr-defined]
        assert {"--env", "--overlay"} <= opts, name


@pytest.mark.parametrize("command", inventory_commands())
def test_env_overlay_is_read_and_its_problems_reported_alike(command: str, tmp_path: Path) -> None:
    inv = tmp_path / "pip.yml"
    shutil.copy(ROOT / "inventories" / "pip.yml", inv)
    (tmp_path / "pip.staging.yml").write_text("gateway:\n  port: 0\n")
    result = CliRunner().invoke(app, [command, str(inv), *EXTRA.get(command, []), "--env", "staging"])
    assert result.exit_code == 2, result.output
    assert "pip.staging.yml:2 gateway.port" in result.output and "Traceback" not in result.output
    assert "1 error in the inventory" in result.output
    missing = CliRunner().invoke(app, [command, str(inv), *EXTRA.get(command, []), "--env", "prod"])
    assert missing.exit_code == 2 and "no overlay for environment 'prod'" in missing.output
