"""The importer on 36 real LiteLLM configs (4 with their compose files) from distinct public repositories.

``fixtures/real/*.yaml`` are quoted from their repositories (source, path and commit in each header);
``JUDGED.json`` holds the hand-made verdict on every finding the importer gives on them. These tests
keep that verdict true: no traceback, every draft valid, the findings exactly the judged ones, each
kind's precision, and no deployment parameter of the source lost without a finding.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from llmfleet.importer import ImportInputError, ImportResult, import_litellm
from llmfleet.inventory.model import Inventory
from llmfleet.render.context import litellm_config_view

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
JUDGED = json.loads((REAL / "JUDGED.json").read_text(encoding="utf-8"))["configs"]
CONFIGS = sorted(p.name for p in REAL.glob("*.yaml"))
MIN_PRECISION = 0.95


def run(name: str) -> ImportResult:
    config = REAL / name
    compose = config.with_suffix(".compose.yml")
    return import_litellm(config, compose if compose.exists() else None)


@pytest.fixture(scope="module")
def results() -> dict[str, ImportResult | ImportInputError]:
    out: dict[str, ImportResult | ImportInputError] = {}
    for name in CONFIGS:
        try:
            out[name] = run(name)
        except ImportInputError as exc:
            out[name] = exc
    return out


def imported(results: dict[str, Any]) -> dict[str, ImportResult]:
    return {k: v for k, v in results.items() if isinstance(v, ImportResult)}


def test_corpus_is_large_and_from_distinct_repositories() -> None:
    sources = set()
    for name in CONFIGS:
        header = (REAL / name).read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("# source: github.com/"), name
        repo, _path, at, commit = header.removeprefix("# source: github.com/").split(" ")[:4]
        assert at == "@" and len(commit) == 40, name
        sources.add(repo)
    assert len(CONFIGS) >= 30 and len(sources) == len(CONFIGS)
    assert set(JUDGED) == set(CONFIGS)


def test_every_config_imports_or_is_refused_with_its_line(results: dict[str, Any]) -> None:
    for name, result in results.items():
        if isinstance(result, ImportInputError):
            assert "input_error" in JUDGED[name], f"{name}: {result}"
            assert result.file.endswith(name) and result.line is not None
        else:
            assert "findings" in JUDGED[name], name


def test_every_draft_validates(results: dict[str, Any]) -> None:
    for name, result in imported(results).items():
        assert result.draft_problems == [], name
        Inventory.model_validate(YAML(typ="safe", pure=True).load(result.inventory_yaml))


def test_findings_are_exactly_the_judged_ones(results: dict[str, Any]) -> None:
    for name, result in imported(results).items():
        got = {f"{f.code} {f.key_path}" for f in result.findings}
        assert got == set(JUDGED[name]["findings"]), name


def test_precision_of_every_finding_kind() -> None:
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for entry in JUDGED.values():
        for key, verdict in entry.get("findings", {}).items():
            code = key.split(" ", 1)[0]
            total[code] += 1
            right[code] += verdict == "right"
    assert sum(total.values()) >= 150
    assert sum(right.values()) / sum(total.values()) >= MIN_PRECISION
    for code in total:
        assert right[code] / total[code] >= MIN_PRECISION, code


def _covered(result: ImportResult, path: tuple[Any, ...]) -> bool:
    return any(tuple(f.path[: len(path)]) == path or tuple(path[: len(f.path)]) == tuple(f.path) for f in result.findings)


def test_no_deployment_parameter_is_lost_without_a_finding(results: dict[str, Any]) -> None:
    """Render each draft: every source litellm_params key comes back with its value, or a finding names it.

    By design the address of a server llmfleet deploys is llmfleet's (api_base of a backend model),
    api_key placeholders become llmfleet's own, and a value the draft left as a TODO is the human's.
    """
    yaml = YAML(typ="safe", pure=True)
    for name, result in imported(results).items():
        view = litellm_config_view(Inventory.model_validate(yaml.load(result.inventory_yaml)))
        source = yaml.load((REAL / name).read_text(encoding="utf-8"))
        for index, entry in enumerate(source.get("model_list") or []):
            params = entry["litellm_params"]
            candidates = [d for d in view.deployments if d.model_name in (entry["model_name"], str(entry["model_name"]).replace(" ", "-"))]
            assert candidates, f"{name}: model_list[{index}] ({entry['model_name']}) is not served"
            tail = str(params["model"]).split("/", 1)[-1]

            def fits(d: Any, tail: str = tail, params: dict[str, Any] = params) -> tuple[bool, bool]:
                return (d.litellm_params["model"].endswith(tail), d.litellm_params.get("api_base") == params.get("api_base"))

            ours = sorted(candidates, key=fits, reverse=True)
            rendered = ours[0].litellm_params
            local = str(ours[0].model_info.get("llmfleet_source", "")).startswith("backend:")
            for key, value in params.items():
                if value is None or key == "api_key" or (local and key == "api_base"):
                    continue
                if _covered(result, ("model_list", index, "litellm_params", key)) or "TODO" in str(rendered.get(key, "")):
                    continue
                if key == "model" and _covered(result, ("model_list", index, "litellm_params", "model")):
                    continue
                assert rendered.get(key) == value or (key == "model" and rendered["model"].endswith(str(value).split("/", 1)[-1])), (
                    f"{name}: model_list[{index}].litellm_params.{key} {value!r} renders as {rendered.get(key)!r} without a finding"
                )


# ----- the false findings of the first corpus run, by class: each stays fixed
def _codes_at(result: ImportResult, code: str) -> list[str]:
    return [f.key_path for f in result.findings if f.code == code]


def test_cost_keys_are_not_secrets(results: dict[str, Any]) -> None:
    for name in ("adorsys-costs.yaml", "causal-insights-gateway.yaml", "clickhouse-bedrock.yaml"):
        assert not [p for p in _codes_at(results[name], "literal-secret") if "cost" in p], name


def test_providers_litellm_knows_are_not_unprefixed(results: dict[str, Any]) -> None:
    # elevenlabs/ is in LiteLLM's provider list; grok-video/, seedance/ are the config's own custom_provider_map
    assert _codes_at(results["causal-insights-gateway.yaml"], "unprefixed-model") == []
    # a model id read from the environment has no prefix to judge
    assert _codes_at(results["enigmacurry-dry-agent.yaml"], "unprefixed-model") == []


def test_ollama_route_advice_only_for_chat_models(results: dict[str, Any]) -> None:
    for result in imported(results).values():
        for f in result.findings:
            if f.code == "ollama-prefix":
                assert "embed" not in f.problem


def test_dummy_keys_are_placeholders_not_billable_secrets(results: dict[str, Any]) -> None:
    result = results["hellblazer-qwen-coprocessor.yaml"]
    assert _codes_at(result, "literal-secret") == []
    assert len(_codes_at(result, "placeholder-api-key")) == 4
    for f in result.findings:
        if f.code == "placeholder-api-key":
            assert "renders no key" not in f.fix and "placeholder" in f.fix


def test_only_the_proxys_compose_services_are_judged(results: dict[str, Any]) -> None:
    result = results["d0wn10ad-ai-gateway.yaml"]
    judged = {f.path[1] for f in result.findings if f.path and f.path[0] == "services"}
    assert judged <= {"litellm", "postgres", "redis"}
    assert any("openwebui" in n and "tika" in n and "watchtower" in n for n in result.notes)
    assert "watchtower" not in result.inventory_yaml and "tika" not in result.inventory_yaml
