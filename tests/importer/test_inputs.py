"""Bad input raises ImportInputError naming the file (and the line when there is one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmfleet.importer import ImportInputError, import_litellm

from .conftest import SEEDS, line_of

GOOD = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(*args, **kwargs) -> ImportInputError:
    with pytest.raises(ImportInputError) as info:
        import_litellm(*args, **kwargs)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    exc = error_of(tmp_path / "nope.yaml")
    assert exc.file.endswith("nope.yaml") and exc.line is None and "no such file" in str(exc)


def test_not_yaml(tmp_path: Path) -> None:
    exc = error_of(write(tmp_path, "bad.yaml", "model_list:\n  - model_name: [a\n  b: c\n"))
    assert exc.line is not None and exc.line >= 2 and "not valid YAML" in exc.message
    assert str(exc).startswith(f"{exc.file}:{exc.line}: ")


def test_not_a_mapping_the_pip_model_list_fragment() -> None:
    path = SEEDS / "pip_model_list_fragment.yaml"
    exc = error_of(path)
    assert exc.line == line_of(path, "- model_name: deepseek-coder")
    assert "top level is a list, not a mapping" in exc.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
        ("just a string\n", "a single value"),
        ("model_list: {a: 1}\n", "model_list is not a list"),
        ("model_list:\n  - model_name: a\n    litellm_params: {api_key: x}\n", "has no litellm_params.model"),
        ("model_list:\n  - litellm_params: {model: openai/x}\n", "has no model_name"),
        ("model_list:\n  - 3\n", "is not a mapping"),
    ],
)
def test_malformed_config(tmp_path: Path, text: str, message: str) -> None:
    assert message in error_of(write(tmp_path, "c.yaml", text)).message


def test_malformed_entry_names_its_line(tmp_path: Path) -> None:
    exc = error_of(write(tmp_path, "c.yaml", GOOD + "  - model_name: b\n    litellm_params:\n      api_key: os.environ/X\n"))
    assert exc.line == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: '3'\n", "no `services:`"),
        ("- a\n", "not a mapping"),
        ("services:\n  litellm: 3\n", "is not a mapping"),
        ("services:\n  litellm: {image: ghcr.io/berriai/litellm}\n  litellm: {image: ghcr.io/berriai/litellm:latest}\n", None),  # a finding
    ],
)
def test_malformed_compose(tmp_path: Path, text: str, message: str | None) -> None:
    config = write(tmp_path, "c.yaml", GOOD)
    compose = write(tmp_path, "compose.yaml", text)
    if message is None:
        result = import_litellm(config, compose)
        codes = [f.code for f in result.findings if f.file == str(compose)]
        assert codes.count("duplicate-key") == 1 and "unpinned-image" in codes
    else:
        exc = error_of(config, compose)
        assert exc.file == str(compose) and message in exc.message


def test_unit_file_must_be_a_unit(tmp_path: Path) -> None:
    config = write(tmp_path, "c.yaml", GOOD)
    exc = error_of(config, unit_paths=[write(tmp_path, "x.service", "[Service]\nnot a line\n")])
    assert exc.line == 2
    assert "no [Section]" in error_of(config, unit_paths=[write(tmp_path, "y.service", "A=b\n")]).message


def test_bad_fleet_name(tmp_path: Path) -> None:
    exc = error_of(write(tmp_path, "c.yaml", GOOD), fleet="Prod Fleet")
    assert exc.file == "--fleet" and "not a valid fleet name" in exc.message


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    assert "not UTF-8" in error_of(path).message


def test_include_is_followed_as_litellm_does(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write(
        tmp_path,
        "models/extra.yaml",
        "model_list:\n  - model_name: b\n    litellm_params: {model: anthropic/claude-x, api_key: os.environ/ANTHROPIC_API_KEY, temprature: 1}\n"
        "include: [more.yaml]\n",
    )
    write(tmp_path, "models/more.yaml", "router_settings:\n  num_retries: 5\n")
    config = write(
        tmp_path,
        "c.yaml",
        "include:\n  - models/extra.yaml\n" + GOOD,
    )
    result = import_litellm(config)
    names = {m["name"] for m in yaml_models(result)}
    assert "b" in names and len(names) >= 2  # model_list extended, nested include (relative to its declaring file) read
    assert "num_retries: 5" in result.inventory_yaml and "more.yaml (included)" in result.inventory_yaml
    (typo,) = [f for f in result.findings if f.code == "unknown-key"]
    assert typo.file == str(config) and typo.line == 2  # located at the include entry that pulled it in
    missing = write(tmp_path, "m.yaml", "include:\n  - nowhere.yaml\n" + GOOD)
    with pytest.raises(ImportInputError, match=r"nowhere\.yaml not found") as exc:
        import_litellm(missing)
    assert exc.value.line == 2


def yaml_models(result) -> list[dict]:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(result.inventory_yaml)["models"]
