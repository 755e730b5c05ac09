"""``llmfleet deploy``: the inventory is checked first, then pyinfra runs the packaged site deploy with the operator's arguments."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from fake_fleet import write_fake_inventory
from typer.testing import CliRunner

from llmfleet.cli import app
from llmfleet.deploy import runner
from llmfleet.deploy.inventory import groups_from
from llmfleet.inventory.loader import load_inventory

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventories" / "lab.yml"


@pytest.fixture
def pyinfra_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the pyinfra command lines `llmfleet deploy` would run (and the files it wrote), answering exit 3."""
    calls: list[list[str]] = []

    def call(cmd: list[str]) -> int:
        calls.append(cmd)
        calls.append([Path(cmd[4]).read_text(), Path(cmd[5]).read_text()])
        return 3

    monkeypatch.setattr(runner.subprocess, "call", call)
    return calls


def test_arguments_pass_through_to_pyinfra_and_its_exit_code_is_ours(pyinfra_calls: list[list[str]]) -> None:
    result = CliRunner().invoke(app, ["deploy", str(LAB), "--dry", "-y", "--limit", "gw1", "-v"])
    assert result.exit_code == 3, result.output
    cmd, (inventory_py, site_py) = pyinfra_calls
    assert cmd[:4] == [sys.executable, "-P", "-m", "pyinfra"]
    assert Path(cmd[4]).name == "lab.py" and Path(cmd[5]).name == "site.py"
    assert cmd[6:] == ["--dry", "--diff", "-y", "--limit", "gw1", "-v"]
    assert "from llmfleet.deploy.site import apply" in site_py
    assert repr(str(LAB.resolve())) in inventory_py


def test_a_bad_inventory_stops_before_pyinfra_with_every_problem(tmp_path: Path, pyinfra_calls: list[list[str]]) -> None:
    bad = tmp_path / "prod.yml"
    bad.write_text("fleet: prod\nhosts: []\nmodels:\n  - {name: m, backend: nope, upstream: x}\ngateway: {master_key: sk-1234}\n")
    result = CliRunner().invoke(app, ["deploy", str(bad), "-y"])
    assert result.exit_code == 2
    assert "prod.yml:2 hosts" in result.output and "error" in result.output and "Traceback" not in result.output
    assert pyinfra_calls == []
    missing = CliRunner().invoke(app, ["deploy", str(LAB), "--env", "nowhere"])
    assert missing.exit_code == 2 and "no overlay for environment 'nowhere'" in missing.output
    assert pyinfra_calls == []


def test_the_generated_inventory_builds_the_adapters_groups(tmp_path: Path) -> None:
    overlay = tmp_path / "over.yml"
    overlay.write_text("gateway: {port: 4100}\n")
    inventory_py, _ = runner.pyinfra_files(tmp_path, "lab", LAB, overlay)
    ns = runpy.run_path(str(inventory_py))
    expected = groups_from(load_inventory(LAB, overlay), LAB.resolve(), overlay.resolve())
    assert (ns["all"], ns["gateway"], ns["gpu"], ns["headscale"]) == tuple(expected)
    assert ns["gateway"][0][1]["llmfleet_overlay"] == str(overlay.resolve())


def test_the_generated_site_deploy_runs_in_pyinfra(tmp_path: Path) -> None:
    """The deploy file `llmfleet deploy` writes drives the packaged deploy end to end (pyinfra's @fake hosts)."""
    _, site_py = runner.pyinfra_files(tmp_path, "lab", LAB, None)
    fake = write_fake_inventory(tmp_path / "fake_lab.py", "lab")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LITELLM_MASTER_KEY": "sk-" + "k" * 40}
    cmd = runner.pyinfra_command(fake, site_py, dry=True, args=["--json"])
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = json.dumps(json.loads(out.stdout))
    assert "Join the Headscale mesh" in text and "Configure and run the LiteLLM gateway" in text
