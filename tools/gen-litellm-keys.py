"""Generate the table of config keys the pinned LiteLLM accepts, per section (run with LiteLLM's python).

    <litellm-venv>/bin/python tools/gen-litellm-keys.py OUT.json

Read from the installed LiteLLM itself, never typed by hand:

* ``litellm_params``: every ``litellm_params.get("...")`` / ``litellm_params["..."]`` in LiteLLM, the deployment parameter models (``LiteLLM_Params`` and its bases), LiteLLM's
  own ``all_litellm_params``, the parameters of ``completion()``/``embedding()``/``image_generation()``/
  ``transcription()``/``speech()`` and the OpenAI chat parameters (everything else is sent to the
  provider as an unknown request field);
* ``modes``: the modes the proxy's health check handles and the cost map's ``mode`` values;
* ``model_info``: every ``model_info.get("...")`` in LiteLLM, the router's ``ModelInfo`` and the cost map's ``ModelInfo`` keys, plus ``mode``'s values;
* ``router_settings``: the parameters of ``Router.__init__`` (the proxy passes the section to it);
* ``litellm_settings``: every public, non-callable attribute of the ``litellm`` module (the proxy
  ``setattr``s each key) plus the keys ``proxy_server.py`` handles itself;
* ``general_settings``: ``ConfigGeneralSettings`` plus every ``general_settings.get("...")`` in the proxy;
* top-level sections: ``ConfigYAML`` plus the sections ``proxy_server.py`` reads from the config;
* ``providers``: ``litellm.provider_list``;
* ``cost_map_modes``: the mode of every bundled cost-map entry that is not chat (what ``/model/info`` reports for a
  deployment that sets none);
* ``router_defaults``: what a ``Router`` built without settings uses (what a config that sets nothing gets).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
import types
import typing
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm.litellm_core_utils.health_check_helpers import HealthCheckHelpers
from litellm.proxy._types import ConfigGeneralSettings, ConfigYAML
from litellm.types.router import LiteLLM_Params
from litellm.types.router import ModelInfo as RouterModelInfo
from litellm.types.utils import ModelInfo as CostModelInfo
from litellm.types.utils import all_litellm_params

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_OR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")


def params(fn) -> set[str]:
    """Named parameters of ``fn`` (no ``*args``/``**kwargs``, no ``self``)."""
    return {p.name for p in inspect.signature(fn).parameters.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - {"self"}


def grep(pattern: str, files: list[Path]) -> set[str]:
    """Every key-shaped first group of ``pattern`` in ``files``."""
    found: set[str] = set()
    rx = re.compile(pattern)
    for path in files:
        found.update(rx.findall(path.read_text(encoding="utf-8", errors="replace")))
    return {k for k in found if NAME.match(k)}


def main(out: Path) -> None:
    """Write the key table of the installed LiteLLM to ``out``."""
    root = Path(litellm.__file__).parent
    proxy_files = sorted((root / "proxy").rglob("*.py"))
    server = root / "proxy" / "proxy_server.py"

    deployment = set(LiteLLM_Params.model_fields) | set(all_litellm_params)
    for name in ("completion", "embedding", "image_generation", "transcription", "speech", "rerank", "responses"):
        fn = getattr(litellm, name, None)
        if fn is not None:
            deployment |= params(fn)
    deployment |= set(getattr(litellm, "OPENAI_CHAT_COMPLETION_PARAMS", []))
    deployment |= {"tpm", "rpm", "weight", "order", "max_parallel_requests", "model_info"}
    all_files = sorted(root.rglob("*.py"))
    deployment |= grep(r'litellm_params\.get\(\s*"([a-z_0-9]+)"', all_files) | grep(r'litellm_params\[\s*"([a-z_0-9]+)"\s*\]', all_files)
    deployment -= {"messages", "input", "prompt", "file", "kwargs", "args", "model_list"}

    hints = typing.get_type_hints(CostModelInfo)
    handlers = HealthCheckHelpers.get_mode_handlers(model="x", custom_llm_provider="openai", model_params={}, prompt="p", input=["i"])
    modes = sorted(set(typing.get_args(hints["mode"])) | set(handlers))
    model_info = set(RouterModelInfo.model_fields) | set(CostModelInfo.__annotations__) | set(hints)
    model_info |= grep(r'model_info\.get\(\s*"([a-z_0-9]+)"', all_files) | grep(r'model_info\[\s*"([a-z_0-9]+)"\s*\]', all_files)
    model_info |= {"mode", "id", "base_model", "description", "access_groups", "health_check_model", "health_check_max_tokens"}

    router = params(litellm.Router.__init__)

    module_attrs = {
        name
        for name, value in vars(litellm).items()
        if NAME.match(name) and not callable(value) and not isinstance(value, types.ModuleType)
    }
    special = grep(r'\bkey == "([a-z_0-9]+)"', [server]) | grep(r'litellm_settings\.get\(\s*"([a-z_0-9]+)"', proxy_files)
    litellm_settings = module_attrs | special

    general = set(ConfigGeneralSettings.model_fields) | grep(r'general_settings\.get\(\s*"([a-z_0-9]+)"', proxy_files)
    general |= grep(r'general_settings\[\s*"([a-z_0-9]+)"\s*\]', proxy_files)

    sections = set(ConfigYAML.model_fields) | grep(r'config\.get\(\s*"([a-z_0-9]+)"', [server])

    fresh = litellm.Router(model_list=[])
    router_defaults = {
        "routing_strategy": fresh.routing_strategy,
        "num_retries": fresh.num_retries,
        "timeout": fresh.timeout if fresh.timeout is not None else litellm.request_timeout,
        "cooldown_time": fresh.cooldown_time,
        "allowed_fails": fresh.allowed_fails,
    }

    table = {
        "litellm_version": litellm.version if isinstance(getattr(litellm, "version", None), str) else _version(),
        "generated_by": "tools/gen-litellm-keys.py",
        "sections": sorted(sections),
        "keys": {
            "litellm_params": sorted(deployment),
            "model_info": sorted(model_info),
            "router_settings": sorted(router),
            "litellm_settings": sorted(litellm_settings),
            "general_settings": sorted(general),
        },
        "modes": modes,
        "router_defaults": router_defaults,
        "cost_map_modes": {
            name: info["mode"]
            for name, info in sorted(litellm.model_cost.items())
            if isinstance(info, dict) and info.get("mode") not in (None, "chat") and NAME_OR_ID.match(name)
        },
        "providers": sorted(str(getattr(p, "value", p)) for p in litellm.provider_list),
    }
    out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _version() -> str:
    from importlib.metadata import version

    return version("litellm")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
