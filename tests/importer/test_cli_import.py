"""`llmfleet import litellm` end to end: exit codes 0 / 1 / 2, the draft file, the findings text."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmfleet.cli import app
from llmfleet.inventory import InventoryError, load

from .conftest import SEEDS, SYNTHETIC


def run(*args: str):
    return CliRunner().invoke(app, ["import", "litellm", *args])


def test_findings_exit_1_and_the_draft_is_written(tmp_path: Path) -> None:
    out = tmp_path / "inventories" / "nova.yml"
    result = run(
        str(SEEDS / "netbox_litellm_config.yaml"), "--compose", str(SEEDS / "netbox_compose.yaml"), "--fleet", "netbox", "--out", str(out)
    )
    assert result.exit_code == 1, result.output
    assert "netbox_litellm_config.yaml:" in result.output and "    fix: " in result.output
    assert "litellm:password@" not in result.output
    # the draft is written, but its placeholders keep it from being used until a human fills them in
    with pytest.raises(InventoryError) as exc:
        load(out)
    assert exc.value.problems and all("is a placeholder to fill in" in p.message for p in exc.value.problems if p.severity == "error")


def test_no_findings_exit_0(tmp_path: Path) -> None:
    out = tmp_path / "clean.yml"
    result = run(str(SYNTHETIC / "policy_config.yaml"), "--compose", str(SYNTHETIC / "clean_compose.yaml"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_bad_input_exit_2_without_traceback(tmp_path: Path) -> None:
    result = run(str(SEEDS / "pip_model_list_fragment.yaml"), "--out", str(tmp_path / "x.yml"))
    assert result.exit_code == 2
    assert "pip_model_list_fragment.yaml:" in result.output and "not a mapping" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.yml").exists()
