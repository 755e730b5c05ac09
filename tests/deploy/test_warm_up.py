"""The Ollama warm-up after deploy: which models it warms, and how the helper passes keep_alive.

Live, against the real Ollama on a booted host: tests/seeds/test_live_pip.py.
"""

from __future__ import annotations

import importlib.util

from llmfleet.deploy.operations.ollama import warm_up_plan
from llmfleet.deploy.remote import helper_source


def test_only_the_models_that_stay_loaded_are_warmed() -> None:
    # Pip: max_loaded_models 1 and two local models: warming the second would evict the first.
    assert warm_up_plan(["deepseek-coder:33b", "llama3.1:8b-instruct-q8_0"], 1) == (["deepseek-coder:33b"], ["llama3.1:8b-instruct-q8_0"])
    assert warm_up_plan(["a", "a:latest", "b"], 3) == (["a:latest", "b:latest"], [])


def test_keep_alive_goes_to_ollama_as_a_duration_or_seconds() -> None:
    spec = importlib.util.spec_from_file_location("warmup", helper_source("warmup.py"))
    assert spec is not None and spec.loader is not None
    warmup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(warmup)
    assert warmup.keep_alive_value("30m") == "30m"
    assert warmup.keep_alive_value("-1") == -1  # forever: Ollama parses a string "-1" as a bad duration
