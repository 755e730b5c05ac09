"""The one llama-server flag table: every flag ``extra_args`` refuses is mapped (or dropped, said) by the importer."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from llmfleet.importer import import_litellm
from llmfleet.inventory.llamacpp_flags import LLAMA_FLAGS, NOT_IN_EXTRA_ARGS, by_field, canonical
from llmfleet.inventory.model import Inventory
from llmfleet.inventory.types import LLAMA_MANAGED_FLAGS

CONFIG = """\
model_list:
  - model_name: local
    litellm_params: {model: openai/qwen, api_base: "http://llama:8080/v1", api_key: os.environ/LLAMA_API_KEY}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""


def compose(extra: list[str]) -> str:
    command = ["--model", "/models/qwen.gguf", "--ctx-size", "8192", *extra]
    return (
        "services:\n  litellm:\n    image: ghcr.io/berriai/litellm:main-v1.106.2\n"
        "  llama:\n    image: ghcr.io/ggml-org/llama.cpp:server-cuda-b4589\n"
        f"    command: {command!r}\n"
    ).replace("'", '"')


def draft(tmp_path: Path, extra: list[str]) -> dict:
    (tmp_path / "c.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "compose.yaml").write_text(compose(extra), encoding="utf-8")
    result = import_litellm(tmp_path / "c.yaml", tmp_path / "compose.yaml")
    assert result.draft_problems == []
    data = YAML(typ="safe", pure=True).load(result.inventory_yaml)
    Inventory.model_validate(data)
    (backend,) = [b for b in data["backends"] if b["kind"] == "llamacpp"]
    return backend["llamacpp"]


def test_the_model_refuses_exactly_the_tables_flags() -> None:
    assert LLAMA_MANAGED_FLAGS == NOT_IN_EXTRA_ARGS
    assert {n for f in LLAMA_FLAGS for n in f.names} == NOT_IN_EXTRA_ARGS
    assert all((f.field is None) != (f.why is None) for f in LLAMA_FLAGS)  # managed by a field, or refused with a reason
    assert canonical("-c") == "--ctx-size" and by_field("llamacpp.threads").flag == "--threads"


@pytest.mark.parametrize("name", sorted(NOT_IN_EXTRA_ARGS))
def test_every_refused_flag_is_mapped_by_the_importer(tmp_path: Path, name: str) -> None:
    flag = next(f for f in LLAMA_FLAGS if name in f.names)
    tuning = draft(tmp_path, [name, "4"] if flag.takes_value else [name])
    assert not {a.split("=", 1)[0] for a in tuning.get("extra_args", [])} & NOT_IN_EXTRA_ARGS


def test_threads_is_a_field_and_free_flags_pass_through(tmp_path: Path) -> None:
    tuning = draft(tmp_path, ["--threads", "8", "--batch-size", "1024", "--no-mmap", "--lora", "x.gguf"])
    assert tuning["threads"] == 8
    assert tuning["extra_args"] == ["--batch-size", "1024", "--no-mmap"]


def test_embedding_is_a_field(tmp_path: Path) -> None:
    tuning = draft(tmp_path, ["--embeddings", "--pooling", "last"])
    assert tuning["embedding"] is True
    assert tuning["extra_args"] == ["--pooling", "last"]
