"""Round trip through the real LiteLLM 1.106.2: source config vs. the render of its imported draft.

For every real config: import, render the draft, then let the real proxy's ``ProxyConfig.load_config``
(what ``litellm --config`` runs at startup) load the source and the render in one interpreter
(``litellm_state.py``; ~20 s for the whole corpus) and compare what decides routing: every
deployment (model, api_base, api_version, timeouts, retries, headers, body, reasoning, tpm/rpm,
mode and the model_info ``/model/info`` serves), the router's settings and the litellm settings
the source set. They must be equal except where a finding names the difference, or where llmfleet
differs on purpose (each such normalisation below says why).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from llmfleet.importer import ImportInputError, ImportResult, import_litellm
from llmfleet.importer.draft import public_name
from llmfleet.inventory.model import Inventory
from llmfleet.render import render_fleet

pytestmark = pytest.mark.real

HERE = Path(__file__).resolve().parent
REAL = HERE / "fixtures" / "real"
STATE_SCRIPT = HERE / "litellm_state.py"
#: Router settings whose value llmfleet sets by policy (the difference is intended, not a loss).
ROUTER_POLICY = {"enable_pre_call_checks": "on whenever a model declares context_window (refuse oversized prompts)"}
#: litellm settings llmfleet renders by policy.
LITELLM_POLICY = {
    "turn_off_message_logging": "prompts stay out of logging callbacks unless gateway.logging.store_prompts (a finding says so "
    "where the source had message-logging callbacks)",
}


def litellm_python() -> Path:
    python = Path(os.environ.get("LLMFLEET_CACHE", Path.home() / ".cache" / "llmfleet")) / "litellm-1.106.2" / "bin" / "python"
    if not python.exists():
        if os.environ.get("LLMFLEET_REQUIRE_REAL"):
            pytest.fail(f"{python} is missing: run `make litellm-proxy`")
        pytest.skip("LiteLLM 1.106.2 is not installed (make litellm-proxy)")
    return python


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ImportResult, dict[str, Any], dict[str, Any]]]:
    python = litellm_python()
    work = tmp_path_factory.mktemp("roundtrip")
    jobs: list[list[str]] = []
    results: dict[str, ImportResult] = {}
    for config in sorted(REAL.glob("*.yaml")):
        compose = config.with_suffix(".compose.yml")
        try:
            result = import_litellm(config, compose if compose.exists() else None)
        except ImportInputError:
            continue  # refused with its line (test_real_corpus); LiteLLM cannot load it either
        inventory = Inventory.model_validate(YAML(typ="safe", pure=True).load(result.inventory_yaml))
        rendered = next(f for f in render_fleet(inventory) if f.relpath.endswith("litellm/config.yaml"))
        target = work / f"{config.stem}.rendered.yaml"
        target.write_text(rendered.content, encoding="utf-8")
        results[config.name] = result
        jobs += [[f"{config.name}:source", str(config)], [f"{config.name}:render", str(target)]]
    (work / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run(
        [str(python), str(STATE_SCRIPT), str(work / "jobs.json")], capture_output=True, text=True, env=env, cwd=work, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = json.loads(proc.stdout.split("@@STATES@@")[-1])
    return {name: (result, states[f"{name}:source"], states[f"{name}:render"]) for name, result in results.items()}


def covered_keys(result: ImportResult, source: dict[str, Any]) -> dict[str, set[str]]:
    """Per source model_name, the litellm_params/model_info keys a finding names."""
    out: dict[str, set[str]] = {}
    entries = source.get("model_list") or []
    for f in result.findings:
        if len(f.path) >= 2 and f.path[0] == "model_list" and isinstance(f.path[1], int) and f.path[1] < len(entries):
            name = str(entries[f.path[1]]["model_name"])
            if len(f.path) >= 4:
                out.setdefault(name, set()).add(f"{f.path[2]}.{f.path[3]}")
            elif len(f.path) == 3 and f.path[2] == "model_name":
                out.setdefault(name, set()).add("model_name")
    return out


def normalised(d: dict[str, Any], skip: set[str], ours: bool, ollama_fixed: bool, on_ollama: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in d.items() if k != "model_name" and k not in skip and not k.startswith("model_info.llmfleet_")}
    if ours and str(d.get("model_info.llmfleet_source", "")).startswith("backend:"):
        out.pop("litellm_params.api_base", None)  # a server llmfleet deploys has llmfleet's address
    if out.get("model_info.mode") == "chat":
        out.pop("model_info.mode")  # LiteLLM's default mode is chat; llmfleet writes it out
    model = str(out.get("litellm_params.model", ""))
    if ollama_fixed and model.startswith("ollama/"):
        out["litellm_params.model"] = "ollama_chat/" + model.removeprefix("ollama/")  # the ollama-prefix finding
    if ours and on_ollama and model.startswith("openai/") and out.get("model_info.mode", "chat") == "chat":
        # llmfleet's route to an Ollama backend for chat: openai/ on Ollama's /v1 (benchmarks/RESULTS-ollama-routes.md);
        # the same server and model as the source's ollama_chat/ (its api_base is llmfleet's, dropped above)
        out["litellm_params.model"] = "ollama_chat/" + model.removeprefix("openai/")
    if isinstance(out.get("litellm_params.timeout"), float) and float(out["litellm_params.timeout"]).is_integer():
        out["litellm_params.timeout"] = int(out["litellm_params.timeout"])
    return out


def on_ollama_backend(inventory: Inventory, source: str) -> bool:
    """Whether a rendered deployment's ``model_info.llmfleet_source`` names an Ollama backend of ``inventory``."""
    kinds = {b.name: b.kind for b in inventory.backends}
    return source.startswith("backend:") and kinds.get(source.removeprefix("backend:")) == "ollama"


def test_litellm_loads_every_source_and_every_render(roundtrip: dict[str, Any]) -> None:
    for name, (_result, source, render) in roundtrip.items():
        if "error" in source:
            # the source needs files of its repository that the corpus does not quote (custom handler modules):
            # the render must need exactly the same, and nothing else
            assert render.get("error") == source["error"], f"{name}: source {source['error']}, render {render.get('error')}"
            continue
        assert "error" not in render, f"{name}: the real LiteLLM refuses the render: {render['error']}"


def test_deployments_are_equal_except_what_a_finding_names(roundtrip: dict[str, Any]) -> None:
    yaml = YAML(typ="safe", pure=True)
    for name, (result, source, render) in roundtrip.items():
        if "error" in source or "error" in render:
            continue
        config = yaml.load((REAL / name).read_text(encoding="utf-8"))
        skip = covered_keys(result, config)
        ollama_fixed = any(f.code == "ollama-prefix" for f in result.findings)
        inventory = Inventory.model_validate(yaml.load(result.inventory_yaml))
        members = {m.model for g in inventory.routing.groups for m in g.members}
        theirs: dict[str, list[dict[str, Any]]] = {}
        for d in source["deployments"]:
            theirs.setdefault(str(d["model_name"]), []).append(d)
        ours: dict[str, list[dict[str, Any]]] = {}
        for d in render["deployments"]:
            ours.setdefault(str(d["model_name"]), []).append(d)
        for model_name, deployments in theirs.items():
            keys = skip.get(model_name, set())
            served = ours.get(model_name) or ours.get(public_name(model_name))
            assert served is not None, f"{name}: {model_name} is not served after the round trip"
            keys = keys | {k for d in served for k, v in d.items() if "TODO" in str(v)}  # the human fills these in
            if any(str(d.get("model_info.llmfleet_source", "")).startswith("backend:") for d in served):
                keys = keys | {"litellm_params.api_base"}  # a server llmfleet deploys has llmfleet's address
            want = sorted(json.dumps(normalised(d, keys, False, ollama_fixed), sort_keys=True) for d in deployments)
            on_ollama = any(on_ollama_backend(inventory, str(d.get("model_info.llmfleet_source", ""))) for d in served)
            got = sorted(json.dumps(normalised(d, keys, True, ollama_fixed, on_ollama), sort_keys=True) for d in served)
            assert got == want, f"{name}: {model_name}"
        todo = {n for n, ds in ours.items() if "TODO" in n or any("TODO" in str(v) for d in ds for v in d.values())}
        extra = set(ours) - set(theirs) - {public_name(n) for n in theirs} - todo  # a TODO: LiteLLM could not build the source's
        # llmfleet serves each group member under its own name too (a model of the inventory), never anything else
        assert extra <= members, f"{name}: served only after the round trip: {sorted(extra - members)}"


def test_router_and_settings_are_equal_except_what_a_finding_names(roundtrip: dict[str, Any]) -> None:
    yaml = YAML(typ="safe", pure=True)
    for name, (result, source, render) in roundtrip.items():
        if "error" in source or "error" in render:
            continue
        named = {f.path[1] for f in result.findings if len(f.path) >= 2 and f.path[0] in ("router_settings", "litellm_settings")}
        named |= {"fallbacks", "context_window_fallbacks"} if any(f.code.startswith("fallback") for f in result.findings) else set()
        for key, value in source["router"].items():
            if key in named or key in ROUTER_POLICY:
                continue
            got = render["router"].get(key)
            if key in ("fallbacks", "context_window_fallbacks"):  # one rule per model: their order does not matter
                value = sorted(value, key=lambda r: json.dumps(r, sort_keys=True)) if value else None
                got = sorted(got, key=lambda r: json.dumps(r, sort_keys=True)) if got else None
            assert got == value or (isinstance(value, float) and got == value), f"{name}: router {key}: {value!r} -> {got!r}"
        config = yaml.load((REAL / name).read_text(encoding="utf-8"))
        set_by_source = (config.get("litellm_settings") or {}).keys()
        for key, value in source["litellm"].items():
            if key in named or key in LITELLM_POLICY or key not in set_by_source:
                continue
            if any(f.code == "debug-logging" and f.path[-1] == key for f in result.findings):
                continue
            if key in ("fallbacks", "context_window_fallbacks"):  # rendered under router_settings, where the router reads them
                rules = sorted(render["router"].get(key) or [], key=lambda r: json.dumps(r, sort_keys=True))
                assert rules == sorted(value or [], key=lambda r: json.dumps(r, sort_keys=True)), f"{name}: {key}"
                continue
            if key in ("num_retries", "allowed_fails"):  # one value in the inventory: rendered as the router's (which routes)
                assert render["router"][key] == source["router"].get(key, value), f"{name}: {key}"
                continue
            default = [] if isinstance(value, list) else False if key == "set_verbose" else None  # what an unset key holds
            assert render["litellm"].get(key, default) == value, f"{name}: litellm {key}: {value!r} -> {render['litellm'].get(key)!r}"
        assert render["cache"] == source["cache"], f"{name}: response cache {source['cache']} -> {render['cache']}"
