"""What real LiteLLM setups use, in the inventory: typed fields, checked passthroughs, the salt key.

Each field is rendered back to the LiteLLM key it stands for; passthrough keys are judged by the
table generated from the pinned LiteLLM (``make litellm-keys``).
"""

from __future__ import annotations

import json
import os
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from llmfleet.inventory.litellm_keys import HERE, key_table
from llmfleet.inventory.model import Inventory, ModelMode
from llmfleet.inventory.rules import run_rules
from llmfleet.render.context import NO_KEY_PLACEHOLDER, gateway_secrets, litellm_config_view

REPO = Path(__file__).resolve().parents[2]


def fleet(models: list[dict[str, Any]], **gateway: Any) -> dict[str, Any]:
    return {
        "fleet": "t",
        "hosts": [{"name": "gw1", "address": "192.0.2.1", "roles": ["gateway"]}],
        "models": models,
        "gateway": {"litellm_version": "1.106.2", "master_key": "env:LITELLM_MASTER_KEY", **gateway},
    }


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(".".join(map(str, p.path)), p.message) for p in run_rules(Inventory.model_validate(data)) if p.severity == "error"]


AZURE = {
    "name": "gpt-4o",
    "provider": "azure",
    "upstream": "my-deployment",
    "api_base": "env:AZURE_API_BASE",
    "api_version": "2025-01-01-preview",
    "api_key": "env:AZURE_API_KEY",
    "timeout_s": 600,
    "num_retries": 1,
    "extra_headers": {"X-Title": "gw"},
    "extra_body": {"chat_template_kwargs": {"enable_thinking": False}},
    "reasoning_effort": "low",
    "base_model": "azure/gpt-4o",
    "input_cost_per_token": 2.5e-06,
    "access_groups": ["beta"],
    "description": "default",
    "tpm": 1000,
    "litellm_params": {"max_tokens": 8192, "top_k": 20},
    "model_info": {"input_cost_per_image": 0.04},
}


def test_typed_fields_render_to_their_litellm_keys() -> None:
    view = litellm_config_view(Inventory.model_validate(fleet([AZURE])))
    (d,) = view.deployments
    assert d.litellm_params == {
        "model": "azure/my-deployment",
        "api_base": "os.environ/AZURE_API_BASE",
        "api_key": "os.environ/AZURE_API_KEY",
        "api_version": "2025-01-01-preview",
        "tpm": 1000,
        "timeout": 600,
        "num_retries": 1,
        "reasoning_effort": "low",
        "extra_headers": {"X-Title": "gw"},
        "extra_body": {"chat_template_kwargs": {"enable_thinking": False}},
        "max_tokens": 8192,
        "top_k": 20,
    }
    for key, value in {
        "base_model": "azure/gpt-4o",
        "input_cost_per_token": 2.5e-06,
        "access_groups": ["beta"],
        "description": "default",
    }.items():
        assert d.model_info[key] == value
    assert d.model_info["input_cost_per_image"] == 0.04
    assert problems(fleet([AZURE])) == []


def test_wildcards_modes_vertex_credentials_and_servers_llmfleet_does_not_deploy() -> None:
    models = [
        {"name": "openai/*", "provider": "openai", "upstream": "*", "api_key": "env:OPENAI_API_KEY"},
        {"name": "tts", "provider": "openai", "upstream": "tts-1", "api_key": "env:OPENAI_API_KEY", "mode": "audio_speech"},
        {
            "name": "gem",
            "provider": "vertex_ai",
            "upstream": "gemini-2.5-pro",
            "vertex_location": "europe-west4",
            "vertex_project": "env:GCP",
        },
        {"name": "az", "provider": "azure", "upstream": "d", "credential_name": "azure-prod", "api_base": "env:AZURE_API_BASE"},
        {"name": "vllm", "provider": "openai", "upstream": "qwen", "api_base": "http://vllm:8000/v1"},
        {
            "name": "embed",
            "provider": "ollama",
            "upstream": "nomic-embed-text",
            "api_base": "http://192.168.1.5:11434",
            "mode": "embedding",
        },
    ]
    data = fleet(models)
    assert problems(data) == []
    inv = Inventory.model_validate(data)
    assert inv.model_by_name["openai/*"].is_wildcard
    deployments = {d.model_name: d for d in litellm_config_view(inv).deployments}
    assert deployments["openai/*"].litellm_params["model"] == "openai/*"
    assert deployments["tts"].model_info["mode"] == "audio_speech" and "health_check_max_tokens" not in deployments["tts"].model_info
    assert deployments["gem"].litellm_params["vertex_location"] == "europe-west4"
    assert deployments["gem"].litellm_params["vertex_project"] == "os.environ/GCP"
    assert deployments["az"].litellm_params["litellm_credential_name"] == "azure-prod"
    # no key of its own: pin a harmless one, so LiteLLM never sends the gateway's OPENAI_API_KEY to that server
    assert deployments["vllm"].litellm_params["api_key"] == NO_KEY_PLACEHOLDER
    assert deployments["embed"].litellm_params["model"] == "ollama/nomic-embed-text"
    with pytest.raises(ValidationError, match="cannot require tool calling"):
        Inventory.model_validate(fleet([{**models[1], "tools": "required"}]))


def test_every_mode_is_one_litellm_health_checks() -> None:
    assert set(typing.get_args(ModelMode)) <= key_table("1.106.2").modes


def test_gateway_settings_render_cache_budget_callbacks_policies_and_passthrough() -> None:
    data = fleet(
        [AZURE],
        redis={"bundled": True, "password": "env:REDIS_PASSWORD"},
        cache={"type": "redis", "ttl_s": 3600, "params": {"supported_call_types": ["acompletion"]}},
        budget={"max_usd": 100, "duration": "30d"},
        logging={"success_callbacks": ["langfuse"], "failure_callbacks": ["sentry"], "service_callbacks": ["prometheus_system"]},
        litellm_settings={"modify_params": True},
        router_settings={"retry_after": 5},
        general_settings={"proxy_batch_write_at": 60},
    )
    data["routing"] = {"retry_policy": {"BadRequestErrorRetries": 0}, "allowed_fails_policy": {"RateLimitErrorAllowedFails": 100}}
    assert problems(data) == []
    view = litellm_config_view(Inventory.model_validate(data))
    ls = view.litellm_settings
    assert ls["cache"] is True and ls["cache_params"] == {
        "type": "redis",
        "host": "redis",
        "port": 6379,
        "password": "os.environ/REDIS_PASSWORD",
        "ttl": 3600,
        "supported_call_types": ["acompletion"],
    }
    assert (ls["max_budget"], ls["budget_duration"]) == (100, "30d")
    assert (ls["success_callback"], ls["failure_callback"], ls["service_callback"]) == (["langfuse"], ["sentry"], ["prometheus_system"])
    assert ls["modify_params"] is True
    assert view.router_settings["retry_after"] == 5 and view.router_settings["retry_policy"] == {"BadRequestErrorRetries": 0}
    assert view.router_settings["allowed_fails_policy"] == {"RateLimitErrorAllowedFails": 100}
    assert view.general_settings["proxy_batch_write_at"] == 60


@pytest.mark.parametrize(
    ("where", "values", "message"),
    [
        ("general_settings", {"request_timeout": 600}, "belongs under litellm_settings"),
        ("general_settings", {"drop_params": True}, "belongs under litellm_settings"),
        ("general_settings", {"max_budget": 10}, "belongs under litellm_settings"),
        ("litellm_settings", {"pass_through_endpoints": []}, "belongs under general_settings"),
        ("router_settings", {"routing_stratgy": "x"}, "did you mean 'routing_strategy'"),
        ("litellm_settings", {"callbacks": ["x"]}, "set by llmfleet from a typed field"),
        ("general_settings", {"master_key": "x"}, "set by llmfleet from a typed field"),
    ],
)
def test_passthrough_keys_are_judged_by_the_generated_table(where: str, values: dict[str, Any], message: str) -> None:
    found = problems(fleet([AZURE], **{where: values}))
    assert len(found) == 1 and found[0][0] == f"gateway.{where}.{next(iter(values))}" and message in found[0][1]


def test_model_passthrough_typos_and_misplaced_keys() -> None:
    found = problems(fleet([{**AZURE, "litellm_params": {"temprature": 0.2, "description": "x", "api_key": "x"}}]))
    messages = dict(found)
    assert "did you mean 'temperature'" in messages["models.0.litellm_params.temprature"]
    assert "belongs under model_info" in messages["models.0.litellm_params.description"]
    assert "typed field" in messages["models.0.litellm_params.api_key"]
    assert (
        "did you mean" in dict(problems(fleet([{**AZURE, "model_info": {"max_input_tokenz": 1}}])))["models.0.model_info.max_input_tokenz"]
    )


def test_a_database_needs_the_salt_key_under_its_own_name() -> None:
    db = {"database": {"url": "env:DATABASE_URL"}}
    (found,) = problems(fleet([AZURE], **db))
    assert found[0] == "gateway.salt_key" and "can no longer be decrypted" in found[1]
    assert problems(fleet([AZURE], **db, salt_key="env:LITELLM_SALT_KEY")) == []
    assert problems(fleet([AZURE], **db, salt_key="file:~/.secrets/litellm-salt-key")) == []
    (found,) = problems(fleet([AZURE], **db, salt_key="env:MY_SALT"))
    assert "only from LITELLM_SALT_KEY" in found[1]
    inv = Inventory.model_validate(fleet([AZURE], **db, salt_key="env:LITELLM_SALT_KEY", ui={"password": "env:UI_PASSWORD"}))
    assert {"LITELLM_SALT_KEY", "UI_PASSWORD"} <= {v.name for v in gateway_secrets(inv)}


def test_a_redis_cache_needs_redis() -> None:
    (found,) = problems(fleet([AZURE], cache={"type": "redis"}))
    assert found[0] == "gateway.cache.type"
    assert problems(fleet([AZURE], cache={"type": "local"})) == []


@pytest.mark.real
def test_the_committed_key_table_is_what_the_pinned_litellm_gives(tmp_path: Path) -> None:
    python = Path(os.environ.get("LLMFLEET_CACHE", Path.home() / ".cache" / "llmfleet")) / "litellm-1.106.2" / "bin" / "python"
    if not python.exists():
        if os.environ.get("LLMFLEET_REQUIRE_REAL"):
            pytest.fail(f"{python} is missing: run `make litellm-proxy`")
        pytest.skip("LiteLLM 1.106.2 is not installed (make litellm-proxy)")
    out = tmp_path / "keys.json"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    subprocess.run([str(python), str(REPO / "tools" / "gen-litellm-keys.py"), str(out)], check=True, env=env, timeout=300)
    assert json.loads(out.read_text()) == json.loads((HERE / "1.106.2.json").read_text())
