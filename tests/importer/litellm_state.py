"""What the real LiteLLM makes of a config: run with LiteLLM's own interpreter, never imported by pytest.

    <litellm-venv>/bin/python litellm_state.py JOBS.json > STATES.json

JOBS.json is ``[[label, config_path], ...]``. Each config is loaded by the proxy's own
``ProxyConfig.load_config`` (what ``litellm --config`` does at startup, without serving HTTP), and
the state that decides routing is dumped: every deployment as the router holds it (model, api_base,
api_version, timeouts, retries, headers, body, reasoning settings, tpm/rpm, mode and the
model_info keys ``/model/info`` serves), the router's settings and the ``litellm`` module settings
the config set. Between configs the module settings either config touched are put back, so one
interpreter start serves every config.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import re
import sys
import types
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Variables LiteLLM reads on its own when a config asks for Redis without naming it (stand-ins: nothing connects)
for _name, _value in (("REDIS_HOST", "env-redis-host"), ("REDIS_PORT", "6379"), ("REDIS_PASSWORD", "env-redis-password")):
    os.environ.setdefault(_name, _value)

import litellm  # noqa: E402 - after the environment it reads at import
import yaml  # noqa: E402 - PyYAML, LiteLLM's own loader
from litellm.proxy.proxy_server import ProxyConfig  # noqa: E402

PARAMS = (
    "model", "api_base", "api_version", "timeout", "stream_timeout", "num_retries", "max_retries", "extra_headers", "extra_body",
    "reasoning_effort", "thinking", "vertex_project", "vertex_location", "litellm_credential_name", "tpm", "rpm", "weight",
    "max_tokens", "temperature", "top_p", "drop_params", "merge_reasoning_content_in_choices", "ssl_verify", "custom_llm_provider",
)  # fmt: skip
INFO = (
    "mode", "base_model", "input_cost_per_token", "output_cost_per_token", "max_input_tokens", "access_groups", "description",
    "llmfleet_source", "llmfleet_member",
)  # fmt: skip
ROUTER = (
    "routing_strategy", "num_retries", "timeout", "stream_timeout", "allowed_fails", "cooldown_time", "retry_policy",
    "allowed_fails_policy", "fallbacks", "context_window_fallbacks", "enable_pre_call_checks", "retry_after",
)  # fmt: skip
MISSING = "<unset>"


def plain(value: Any) -> Any:
    """JSON-able form of a setting (pydantic models dumped, secrets never printed)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(type(value).__name__)


def deployment(d: dict[str, Any]) -> dict[str, Any]:
    params = d.get("litellm_params") or {}
    info = dict(d.get("model_info") or {})
    if info.get("mode") is None:  # what /model/info shows then: the mode of the bundled cost map's entry
        with contextlib.suppress(Exception):
            info["mode"] = litellm.get_model_info(model=str(params.get("model")))["mode"]
    out = {"model_name": d.get("model_name")}
    out.update({f"litellm_params.{k}": plain(params[k]) for k in PARAMS if params.get(k) is not None})
    out.update({f"model_info.{k}": plain(info[k]) for k in INFO if info.get(k) is not None})
    return out


def setting(key: str) -> Any:
    """A litellm module setting; callback lists as the names configured (LiteLLM adds its own logger objects)."""
    value = getattr(litellm, key, MISSING)
    if key.endswith(("callback", "callbacks")) and isinstance(value, list):
        # "cache" is the response cache's own callback: whether it survives depends on the order of the keys (a later
        # success_callback replaces the list), not on what the config means
        return sorted(v for v in value if isinstance(v, str) and v != "cache")
    return plain(value)


ENV_REF = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")


async def state(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    settings_keys = list(((yaml.safe_load(text) or {}).get("litellm_settings") or {}).keys())
    for name in ENV_REF.findall(text):  # what the deployment's environment would hold: a stand-in value per variable
        os.environ.setdefault(name, f"env-{name.lower()}")
    router, _models, general = await ProxyConfig().load_config(router=None, config_file_path=path)
    deployments = [deployment(d) for d in (router.model_list if router is not None else [])]
    return {
        "deployments": deployments,
        "router": {k: plain(getattr(router, k, None)) for k in ROUTER} if router is not None else {},
        "litellm": {k: setting(k) for k in settings_keys if k not in ("cache_params",)},
        "cache": type(litellm.cache.cache).__name__ if litellm.cache is not None else None,
        "general_keys": sorted(general or {}),
    }


def _copy(value: Any) -> Any:
    """A shallow copy where one can be made (lists and dicts are what load_config appends to)."""
    try:
        return copy.copy(value)
    except Exception:
        return value


async def main(jobs: list[list[str]]) -> dict[str, Any]:
    pristine = {
        k: _copy(v) for k, v in vars(litellm).items() if not k.startswith("_") and not callable(v) and not isinstance(v, types.ModuleType)
    }
    out: dict[str, Any] = {}
    for label, path in jobs:
        try:
            out[label] = await state(path)
        except BaseException as exc:
            out[label] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        for key in [k for k in vars(litellm) if not k.startswith("_")]:
            if key in pristine:
                with contextlib.suppress(Exception):  # read-only attributes keep their value
                    setattr(litellm, key, _copy(pristine[key]))
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        jobs = json.load(fh)
    result = asyncio.run(main(jobs))
    sys.stdout.write("\n@@STATES@@" + json.dumps(result, sort_keys=True) + "\n")
