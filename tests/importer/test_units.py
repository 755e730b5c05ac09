"""The small parts: YAML positions and semantics, the draft writer, image policy, formatting."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from llmfleet.importer import Finding, format_findings
from llmfleet.importer.compose_checks import check_unit
from llmfleet.importer.emit import Note, dump, scalar
from llmfleet.importer.findings import describe_literal, mask_url, url_password
from llmfleet.importer.policy import litellm_version_refusal, llamacpp_build_in, parse_image, version_in
from llmfleet.importer.source import load_yaml
from llmfleet.importer.units import load_unit


def test_yaml_reads_like_litellm(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: yes\nb:\n  x: 1\nb:\n  z: 2\nbase: &B {p: 1, q: 2}\nc:\n  <<: *B\n  q: 3\n", encoding="utf-8")
    source = load_yaml(path, what="test", yaml_1_1=True)
    assert source.data["a"] is True  # YAML 1.1, as PyYAML
    assert source.data["b"] == {"z": 2}  # the later duplicate wins, as PyYAML
    assert [(d.path, d.first_line, d.line) for d in source.duplicates] == [(("b",), 2, 4)]
    assert source.data["c"] == {"p": 1, "q": 3}  # merge keys, explicit keys win
    assert source.line(("c", "q")) == 9 and source.line(("nope",)) is None


def test_find_line_inside_a_folded_scalar(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cmd: >\n  --a 1\n  --host 0.0.0.0\n  --b\nnext: 1\n", encoding="utf-8")
    source = load_yaml(path, what="test")
    assert source.find_line(("cmd",), "--host") == 3
    assert source.find_line(("cmd",), "absent") == 1


@pytest.mark.parametrize(
    "text",
    ["yes", "no", "on", "1.0", "0o17", "017", "a: b", "#x", "null", "~", "- x", "", " x", "x #y", "[a]", "1:30", "env:A_B", "100.64.0.2"],
)
def test_emitted_scalars_read_back_unchanged(text: str) -> None:
    for version in ((1, 1), (1, 2)):
        yaml = YAML(typ="safe", pure=True)
        yaml.version = version
        assert yaml.load(f"k: {scalar(text)}\n") == {"k": text}
        assert yaml.load(f"k: [{scalar(text, flow=True)}]\n") == {"k": [text]}


def test_dump_with_comments() -> None:
    text = dump(
        {"a": Note(1, "one"), "b": [Note({"x": 1, "z": [1, 2]}, before=("item",))], "c": {}},
        header=["head"],
    )
    assert text == "# head\na: 1  # one\nb:\n  # item\n  - x: 1\n    z: [1, 2]\nc: {}\n"
    assert YAML(typ="safe", pure=True).load(text) == {"a": 1, "b": [{"x": 1, "z": [1, 2]}], "c": {}}


@pytest.mark.parametrize(
    ("ref", "pinned"),
    [
        ("ghcr.io/berriai/litellm:main-latest", False),
        ("ghcr.io/berriai/litellm:main-v1.106.2", True),
        ("ghcr.io/berriai/litellm:v1.83.7-stable", True),
        ("ghcr.io/ggerganov/llama.cpp:server-cuda", False),
        ("ghcr.io/ggml-org/llama.cpp:server-cuda-b4589", True),
        ("ollama/ollama", False),
        ("ollama/ollama:latest", False),
        ("ollama/ollama:0.5.7", True),
        ("postgres:16", False),
        ("localhost:5000/redis", False),
        ("redis@sha256:" + "a" * 64, True),
    ],
)
def test_image_pinning(ref: str, pinned: bool) -> None:
    assert parse_image(ref).pinned is pinned


def test_image_parts() -> None:
    image = parse_image("localhost:5000/team/llama.cpp:server-cuda-b4589@sha256:" + "b" * 64)
    assert (image.repository, image.tag, image.name) == ("localhost:5000/team/llama.cpp", "server-cuda-b4589", "llama.cpp")
    assert llamacpp_build_in(image.tag) == "b4589"
    assert version_in("main-v1.83.7-stable") == (1, 83, 7)


@pytest.mark.parametrize(
    ("version", "refused"),
    [
        ((1, 82, 7), True),
        ((1, 82, 8), True),
        ((1, 83, 6), True),
        ((1, 40, 0), True),
        ((1, 83, 7), True),
        ((1, 84, 0), False),
        ((1, 106, 2), False),
    ],
)
def test_litellm_policy(version: tuple[int, int, int], refused: bool) -> None:
    assert (litellm_version_refusal(version) is not None) is refused


def test_secrets_are_described_not_shown() -> None:
    url = "postgresql://litellm:s3cret@db:5432/x"
    assert url_password(url) == "s3cret" and "s3cret" not in mask_url(url) and "s3cret" not in describe_literal(url)
    assert url_password("postgresql://litellm:${POSTGRES_PASSWORD}@db/x") is None
    assert describe_literal("sk-1234") == "the public example key sk-1234"
    assert "abcdef" not in describe_literal("sk-ant-api03-abcdefabcdefabcdef")
    assert describe_literal("whatever") == "a literal value"


def test_format_findings() -> None:
    error = Finding("literal-secret", "c.yaml", 7, ("model_list", 0, "litellm_params", "api_key"), "bad.", "do this.")
    warning = Finding("ollama-prefix", "c.yaml", 3, ("model_list", 0, "litellm_params", "model"), "meh.", "that.", "warning")
    assert format_findings([error, warning]) == (
        "c.yaml:3 model_list[0].litellm_params.model: warning: meh.\n    fix: that.\n"
        "c.yaml:7 model_list[0].litellm_params.api_key: bad.\n    fix: do this."
    )
    assert format_findings([]) == ""
    problem = error.as_problem()
    assert (problem.file, problem.line, problem.path, problem.severity) == ("c.yaml", 7, error.path, "error")
    with pytest.raises(ValueError):
        Finding("no-such-code", "c.yaml", 1, (), "x", "y")


def test_unit_exec_start_binding(tmp_path: Path) -> None:
    path = tmp_path / "llama.service"
    path.write_text("[Service]\nExecStart=/usr/bin/llama-server -m /m.gguf --host=0.0.0.0 --port 8080\n", encoding="utf-8")
    unit = load_unit(path)
    assert unit.kind == "llamacpp"
    (finding,) = check_unit(unit)
    assert (finding.code, finding.line) == ("backend-exposed", 2)
    assert "llama-server --host 100.64.x.y" in finding.fix
    path.write_text("[Service]\nEnvironment=OLLAMA_HOST=100.64.0.2:11434\nExecStart=/usr/bin/ollama serve\n", encoding="utf-8")
    assert check_unit(load_unit(path)) == []
