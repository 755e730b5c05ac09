"""Ollama models created offline: the Modelfile rendered from the inventory, and what the model refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llmfleet.inventory.loader import load_inventory
from llmfleet.inventory.model import OllamaModelSource
from llmfleet.render import render_fleet

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
