"""Loading: located errors, all at once, did-you-mean, overlays, YAML faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmfleet.inventory import InventoryError, load

TEXT = """\
fleet: t
hosts:
  - name: gw1
    address: 203.0.113.10
    roles: [gateway]
  - name: gpu1
    address: 192.0.2.20
    roles: [gpu]
backends:
  - name: ollama-gpu1
    kind: ollama
    host: gpu1
    port: 11434
    bind: loopback
    ollama: {version: 0.5.7}
models:
  - name: a
    provider: anthropic
    upstream: claude
    api_key: env:ANTHROPIC_API_KEY
  - name: b
    backend: olama-gpu1
    upstream: qwen
    toolz: required
gateway:
  litellm_version: 1.106.2
  master_key: env:LITELLM_MASTER_KEY
"""


def test_valid_lab_fleet_loads(tmp_path: Path) -> None:
    loaded = load(Path("inventories/lab.yml"))
    assert loaded.inventory.fleet == "lab"
    assert loaded.warnings == []


def test_every_problem_is_reported_at_once_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "prod.yml"
    path.write_text(TEXT)
    with pytest.raises(InventoryError) as exc:
        load(path)
    lines = [str(p) for p in exc.value.problems]
    name = str(path)
    assert f"{name}:22 models[1].backend: unknown backend 'olama-gpu1' (did you mean 'ollama-gpu1'?)" in lines
    assert f"{name}:24 models[1].toolz: unknown field 'toolz' (did you mean 'tools'?)" in lines
    # the loopback-bound backend on another host than the gateway is caught in the same run
    assert any(line.startswith(f"{name}:14 backends[0].bind: bound to loopback") for line in lines)


def test_literal_secret_anywhere_is_refused_and_never_echoed(problems_of, base) -> None:
    secret = "sk-ant-api03-" + "Z" * 30
    base["models"][2]["api_key"] = secret
    base["hosts"][0]["address"] = "AIza" + "Q" * 35
    out = "\n".join(problems_of(base))
    assert "models[2].api_key: a literal secret value is not allowed here (it looks like an Anthropic API key)" in out
    assert "hosts[0].address: this looks like a Google API key" in out
    assert secret not in out and "Q" * 35 not in out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk-1234", "it looks like a public example key"),
        ("${LITELLM_MASTER_KEY}", "is shell syntax; write env:LITELLM_MASTER_KEY"),
        ("os.environ/LITELLM_MASTER_KEY", "is LiteLLM syntax; in the inventory write env:LITELLM_MASTER_KEY"),
        ("env:lower", "the variable name must be upper case"),
        ("file:relative/path", "must be absolute or start with ~"),
    ],
)
def test_master_key_must_be_a_reference(problems_of, base, value, expected) -> None:
    base["gateway"]["master_key"] = value
    assert any("gateway.master_key" in p and expected in p for p in problems_of(base))


def test_overlay_merges_by_name_and_errors_point_into_the_overlay(load_data, problems_of, base, tmp_path) -> None:
    overlay = {
        "models": [
            {"name": "ds", "context_window": 4096},
            {"name": "extra", "provider": "openai", "upstream": "gpt-4o", "api_key": "env:OPENAI_API_KEY"},
        ]
    }
    inv = load_data(base, overlay).inventory
    assert inv.model_by_name["ds"].context_window == 4096
    assert inv.model_by_name["ds"].upstream == "ds-r1"  # untouched fields stay
    assert [m.name for m in inv.models] == ["qwen", "ds", "haiku", "extra"]
    bad = {"backends": [{"name": "ollama-gpu1", "bind": "0.0.0.0"}]}
    out = problems_of(base, bad)
    assert any(p.startswith(str(tmp_path / "fleet.prod.yml") + ":") and "backends[0].bind" in p and "0.0.0.0" in p for p in out), out


def test_invalid_yaml_and_duplicate_keys_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("fleet: t\nhosts:\n  - name: [unclosed\n")
    with pytest.raises(InventoryError) as exc:
        load(bad)
    assert str(exc.value).startswith(f"{bad}:") and "invalid YAML" in str(exc.value)
    dup = tmp_path / "dup.yml"
    dup.write_text("fleet: t\nfleet: u\n")
    with pytest.raises(InventoryError) as exc:
        load(dup)
    assert f"{dup}:2" in str(exc.value) and "duplicate key" in str(exc.value)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load(tmp_path / "nope.yml")
    lst = tmp_path / "list.yml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(InventoryError, match="must be a mapping"):
        load(lst)


def test_unquoted_hash_that_yaml_reads_as_a_number_gets_a_hint(problems_of, base) -> None:
    base["backends"][1]["llamacpp"]["model"]["sha256"] = 1234
    assert any("sha256: expected a string (quote the value in YAML)" in p for p in problems_of(base))


def test_literal_choice_typo_suggests_the_right_value(problems_of, base) -> None:
    base["backends"][0]["kind"] = "olama"
    assert any("backends[0].kind: 'olama' is not one of" in p and "(did you mean 'ollama'?)" in p for p in problems_of(base))
