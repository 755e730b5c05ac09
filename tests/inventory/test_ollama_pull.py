"""``models[].ollama.pull``: an Ollama model pulled from an operator-run registry, validated before anything runs."""

from __future__ import annotations

from typing import Any

DIGEST = "4c5164f6533ab9ad52ad42a448b544ee78bba2308a040a03b9cc2d9a774685bd"


def _pulled(base: dict[str, Any], pull: dict[str, Any], **more: Any) -> dict[str, Any]:
    base["models"][0]["ollama"] = {"pull": pull, **more}
    return base


def test_a_pull_source_loads_and_names_its_reference(load_data, base) -> None:
    inv = load_data(_pulled(base, {"registry": "registry.internal:5000", "insecure": True}, digest=DIGEST)).inventory
    src = inv.models[0].ollama
    assert src is not None and src.pull is not None and src.gguf is None
    assert src.pull.reference("qwen2.5:14b-instruct") == "registry.internal:5000/library/qwen2.5:14b-instruct"
    assert src.pull.reference("tiny") == "registry.internal:5000/library/tiny:latest"
    base["models"][0]["ollama"]["pull"]["repository"] = "team/qwen:v2"
    assert load_data(base).inventory.models[0].ollama.pull.reference("x") == "registry.internal:5000/team/qwen:v2"  # type: ignore[union-attr]


def test_exactly_one_of_gguf_and_pull(problems_of, base) -> None:
    base["models"][0]["ollama"] = {"digest": DIGEST}
    assert any("models[0].ollama: set exactly one of gguf (ollama create) and pull" in p for p in problems_of(base))
    base["models"][0]["ollama"] = {"gguf": {"url": "https://example.org/q.gguf", "sha256": "b" * 64}, "pull": {"registry": "r:5000"}}
    assert any("set exactly one of gguf" in p for p in problems_of(base))


def test_modelfile_fields_are_refused_with_a_pull(problems_of, base) -> None:
    problems = problems_of(_pulled(base, {"registry": "r:5000"}, template="{{ .Prompt }}", parameters={"temperature": 0}))
    assert any("template, parameters: only with gguf; a pulled model's manifest carries them" in p for p in problems), problems


def test_a_hostile_registry_or_repository_is_refused_with_file_line_and_field(problems_of, base) -> None:
    for pull in ({"registry": "r:5000 --insecure"}, {"registry": "$(id)"}, {"registry": "r:5000", "repository": "../x;rm"}):
        problems = problems_of(_pulled(base, pull))
        assert any("fleet.yml:" in p and "models[0].ollama.pull." in p for p in problems), problems
