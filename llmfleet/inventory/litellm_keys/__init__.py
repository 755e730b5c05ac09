"""The config keys the pinned LiteLLM accepts, per section: generated from the real LiteLLM.

``make litellm-keys`` runs ``tools/gen-litellm-keys.py`` with the cached LiteLLM's own interpreter
and writes ``<version>.json`` here (committed; one file per LiteLLM release). Both the inventory
(passthrough settings) and the importer (misplaced and unknown keys) judge keys with it, so a typo
or a key under the wrong section is refused with a did-you-mean and the section where it belongs.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from llmfleet.inventory.problems import did_you_mean

HERE = Path(__file__).resolve().parent
VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
#: The sections whose keys are judged (``model_list`` entries: ``litellm_params`` and ``model_info``).
SETTINGS_SECTIONS = ("litellm_settings", "router_settings", "general_settings")
ENTRY_SECTIONS = ("litellm_params", "model_info")


def _version_key(version: str) -> tuple[int, ...]:
    match = VERSION_RE.match(version)
    return tuple(int(p) for p in match.groups()) if match else (0, 0, 0)


def table_versions() -> list[str]:
    """LiteLLM releases a table was generated for, oldest first."""
    return sorted((p.stem for p in HERE.glob("*.json") if VERSION_RE.match(p.stem)), key=_version_key)


@dataclass(frozen=True)
class KeyTable:
    """Accepted keys of one LiteLLM release."""

    litellm_version: str
    sections: frozenset[str]
    keys: dict[str, frozenset[str]]
    modes: frozenset[str]
    providers: frozenset[str]
    router_defaults: dict[str, object]
    cost_map_modes: dict[str, str]

    def accepts(self, section: str, key: str) -> bool:
        """True when LiteLLM reads ``key`` in ``section``."""
        return key in self.keys.get(section, frozenset())

    def homes(self, key: str, among: tuple[str, ...] = SETTINGS_SECTIONS) -> list[str]:
        """The sections (of ``among``) where LiteLLM does read ``key``."""
        return [s for s in among if key in self.keys.get(s, frozenset())]

    def key_problem(self, section: str, key: str, among: tuple[str, ...] = SETTINGS_SECTIONS) -> str | None:
        """Why LiteLLM ignores ``key`` under ``section`` (misplaced or unknown), or ``None`` when it reads it."""
        if self.accepts(section, key):
            return None
        homes = [s for s in self.homes(key, among) if s != section]
        if homes:
            return f"'{key}' is not read under {section} by LiteLLM {self.litellm_version}; it belongs under {' or '.join(homes)}"
        known = self.keys.get(section, frozenset())
        if section == "litellm_params":
            # LiteLLM sends a deployment parameter it does not know to the provider as a request field
            # (top_k, a server's own options): only a near-miss of a known key is a typo.
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.85)
            if not close:
                return None
            return f"'{key}' is not a litellm_params key of LiteLLM {self.litellm_version} (did you mean '{close[0]}'?)"
        return f"'{key}' is not a {section} key of LiteLLM {self.litellm_version}{did_you_mean(key, known)}"

    def section_problem(self, name: str) -> str | None:
        """Why a top-level section is ignored, or ``None`` when LiteLLM reads it."""
        if name in self.sections:
            return None
        return f"'{name}' is not a section of a LiteLLM {self.litellm_version} config{did_you_mean(name, self.sections)}"


@cache
def _load(version: str) -> KeyTable:
    data = json.loads((HERE / f"{version}.json").read_text(encoding="utf-8"))
    return KeyTable(
        litellm_version=data["litellm_version"],
        sections=frozenset(data["sections"]),
        keys={section: frozenset(keys) for section, keys in data["keys"].items()},
        modes=frozenset(data["modes"]),
        providers=frozenset(data["providers"]),
        router_defaults=dict(data.get("router_defaults", {})),
        cost_map_modes=dict(data.get("cost_map_modes", {})),
    )


def key_table(litellm_version: str | None = None) -> KeyTable:
    """The table for ``litellm_version``: its own, else the newest older one, else the oldest (``None``: newest)."""
    versions = table_versions()
    if not versions:
        raise FileNotFoundError(f"no LiteLLM key table in {HERE} (run `make litellm-keys`)")
    if litellm_version is None or litellm_version in versions:
        return _load(litellm_version or versions[-1])
    older = [v for v in versions if _version_key(v) <= _version_key(litellm_version)]
    return _load(older[-1] if older else versions[0])


#: Keys llmfleet renders from typed fields: a passthrough may not set them (it would override a field silently).
MANAGED_KEYS: dict[str, frozenset[str]] = {
    "litellm_params": frozenset(
        {
            "model",
            "api_base",
            "api_key",
            "api_version",
            "tpm",
            "rpm",
            "weight",
            "timeout",
            "stream_timeout",
            "num_retries",
            "extra_headers",
            "extra_body",
            "vertex_project",
            "vertex_location",
            "litellm_credential_name",
            "reasoning_effort",
            "thinking",
            "input_cost_per_token",
            "output_cost_per_token",
            "mode",
        }
    ),
    "model_info": frozenset(
        {
            "mode",
            "max_input_tokens",
            "health_check_max_tokens",
            "base_model",
            "access_groups",
            "description",
            "id",
            "input_cost_per_token",
            "output_cost_per_token",
        }
    ),
    "litellm_settings": frozenset(
        {
            "drop_params",
            "json_logs",
            "request_timeout",
            "turn_off_message_logging",
            "callbacks",
            "success_callback",
            "failure_callback",
            "service_callback",
            "cache",
            "cache_params",
            "max_budget",
        }
    ),
    "router_settings": frozenset(
        {
            "routing_strategy",
            "num_retries",
            "timeout",
            "stream_timeout",
            "cooldown_time",
            "allowed_fails",
            "enable_pre_call_checks",
            "redis_host",
            "redis_port",
            "redis_password",
            "redis_url",
            "fallbacks",
            "context_window_fallbacks",
            "model_list",
            "retry_policy",
            "allowed_fails_policy",
        }
    ),
    "general_settings": frozenset(
        {"master_key", "database_url", "store_prompts_in_spend_logs", "background_health_checks", "health_check_interval"}
    ),
}
