"""Ollama models created offline: the Modelfile rendered from the inventory, and what the model refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleetlab.tiny_gguf import CHATML_GO_TEMPLATE, QWEN25_TOOLS_GO_TEMPLATE
from llmfleet.inventory.loader import load_inventory
from llmfleet.inventory.model import Inventory, OllamaModelSource
from llmfleet.render import render_fleet
from tests.render.modelfile_parser import parse_modelfile

REPO = Path(__file__).resolve().parents[2]
GGUF = {"url": "http://10.231.0.1:8099/tiny-chatml.gguf", "sha256": "1" * 64}


def lab_with(source: dict):
    inv = load_inventory(REPO / "inventories" / "lab.yml")
    data = inv.model_dump(mode="json", exclude_none=True)
    for m in data["models"]:
        if m["name"] == "tiny-ollama":
            m["ollama"] = source
    return type(inv).model_validate(data)


def rendered(inv) -> dict[str, str]:
    return {f.relpath: f.content for f in render_fleet(inv)}


def test_the_modelfile_takes_the_gguf_context_parameters_template_and_system() -> None:
    inv = lab_with(
        {
            "gguf": GGUF,
            "parameters": {"temperature": 0.2, "stop": ["<|im_end|>", "<|im_start|>"]},
            "template": "{{ .Prompt }}",
            "system": "Be brief.",
        }
    )
    model = next(m for m in inv.models if m.name == "tiny-ollama")
    out = rendered(inv)
    name = f"gpu1/ollama/{model.upstream.replace(':', '_')}.Modelfile"
    text = out[name]
    assert "FROM /var/lib/llmfleet/models/tiny-chatml.gguf\n" in text
    assert f"PARAMETER num_ctx {model.context_window}\n" in text, "num_ctx is the model's context window"
    assert 'PARAMETER temperature 0.2\nPARAMETER stop "<|im_end|>"\nPARAMETER stop "<|im_start|>"\n' in text
    assert 'TEMPLATE """{{ .Prompt }}"""\n' in text and 'SYSTEM """Be brief."""\n' in text
    assert model.upstream not in out["gpu1/ollama/models.txt"].split("\n")[-2:], "a created model is not pulled"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"gguf": GGUF, "template": 'x"""\nFROM /etc/shadow'}, 'may not contain """'),
        ({"gguf": GGUF, "system": 'a"""b'}, 'may not contain """'),
        ({"gguf": GGUF, "parameters": {"adapter": "x"}}, "unknown Modelfile parameter"),
        ({"gguf": GGUF, "parameters": {"stop": ['a"\nFROM x']}}, "line breaks are not allowed"),
        ({"gguf": GGUF, "digest": "sha256:abc"}, "digest"),
    ],
)
def test_hostile_strings_cannot_change_the_modelfile(source: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OllamaModelSource.model_validate(source)


HOSTILE_TEMPLATES = [
    "v\"'$HOME ${X} %h %% \\ #: {a: [b]} & *c !d `id` ; x {{ .Tools }}",
    'ends with a quote"',
    'ends with two quotes""',
    '"starts with a quote {{ .Prompt }}',
    'a\n"\n""\nPARAMETER num_ctx 1\nFROM /etc/shadow\n# not a comment\n  b',
    '{{ "}}\\"" }} {{ `""` | len }}',
    "   leading and trailing spaces   \n\n",
    QWEN25_TOOLS_GO_TEMPLATE,
]


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES)
def test_a_hostile_template_reads_back_unchanged_under_ollamas_parser(template: str) -> None:
    inv = lab_with({"gguf": GGUF, "template": template, "system": template.replace("{{", "{ {"), "parameters": {"stop": ["#x y"]}})
    text = next(v for k, v in rendered(inv).items() if k.endswith(".Modelfile"))
    commands = parse_modelfile(text)
    assert [c for c, _ in commands] == ["model", "num_ctx", "stop", "template", "system"], text
    assert dict(commands)["template"] == template
    assert dict(commands)["system"] == template.replace("{{", "{ {")
    assert dict(commands)["stop"] == '"#x y"'.strip('"')


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ .Prompt ", "unclosed action"),
        ("{{ if .Tools }}tools", "never closed"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ("{{ break }}", "outside {{range}}"),
        ("{{ toJson .Tools }}", 'function "toJson" not defined'),
        ("{{ }}", "missing value"),
        ('{{ "open }}', "unclosed action"),
        ("{{ (len .Messages }}", "unclosed left paren"),
        ("{{/* never closed }}", "unclosed comment"),
        ("a\x1b[2Jb", "control characters"),
        ("a\tb", "control characters"),
    ],
)
def test_a_template_ollama_cannot_parse_is_refused(template: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        OllamaModelSource.model_validate({"gguf": GGUF, "template": template})


def test_a_template_without_tools_is_flagged_for_a_tool_model() -> None:
    from llmfleet.inventory.rules import run_rules

    def severities(template: str, tools: str) -> list[str]:
        data = lab_with({"gguf": GGUF, "template": template}).model_dump(mode="json", exclude_none=True)
        next(m for m in data["models"] if m["name"] == "tiny-ollama")["tools"] = tools
        problems = [p for p in run_rules(Inventory.model_validate(data)) if p.path[-1] == "template"]
        assert all(".Tools" in p.message for p in problems)
        return [p.severity for p in problems]

    assert severities(CHATML_GO_TEMPLATE, "optional") == ["warning"]
    assert severities(CHATML_GO_TEMPLATE, "required") == ["error"]
    assert severities(CHATML_GO_TEMPLATE, "none") == []
    assert severities(QWEN25_TOOLS_GO_TEMPLATE, "required") == []
