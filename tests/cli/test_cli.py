"""The command line as users meet it: exit codes, messages on stderr, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from llmfleet.cli import app
from llmfleet.docs import BEGIN, END, inventory_reference
from llmfleet.inventory.model import Inventory, dump_json_schema

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_bad_inventory_exits_2_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "prod.yml"
    bad.write_text(
        "fleet: prod\nhosts:\n  - {name: gw1, address: 1.2.3.4, roles: [gateway]}\n"
        "models:\n  - {name: m, backend: olama, upstream: x}\n"
        "gateway: {litellm_version: latest, master_key: sk-1234}\n"
    )
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "llmfleet.cli", "render", str(bad), "--out", str(out_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "prod.yml:5 models[0].backend: unknown backend 'olama'" in proc.stderr
    assert "prod.yml:6 gateway.litellm_version: 'latest' is not a pinned release" in proc.stderr
    assert "prod.yml:6 gateway.master_key: a literal secret value is not allowed here" in proc.stderr
    assert "3 errors in the inventory; nothing was written." in proc.stderr
    assert not out_dir.exists()


def test_schema_command_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "llmfleet inventory"
    assert {"fleet", "hosts", "backends", "models", "routing", "gateway", "mesh"} <= set(schema["properties"])


def test_committed_schema_file_is_current() -> None:
    committed = json.loads((ROOT / "schema/inventory.schema.json").read_text())
    assert committed == dump_json_schema(), "run `make schema`"


def test_readme_inventory_reference_is_generated_from_the_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert section == inventory_reference(), "run `make docs`"


def test_every_field_is_documented_with_description_and_example() -> None:
    from llmfleet.docs import _models_in_order, _type_name

    undocumented = []
    for model in _models_in_order(Inventory):
        for name, field in model.model_fields.items():
            nested = "[" in _type_name(field.annotation)  # a nested object documents its own fields
            if not field.description or (not field.examples and not nested):
                undocumented.append(f"{model.__name__}.{name}")
    assert undocumented == []


def test_env_overlay_missing_is_a_clear_error() -> None:
    result = runner.invoke(app, ["validate", str(ROOT / "inventories/lab.yml"), "--env", "nowhere"])
    assert result.exit_code == 2
    assert "no overlay for environment 'nowhere'" in result.stderr
