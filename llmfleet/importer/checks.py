"""Findings in a LiteLLM proxy config (``config.yaml``).

Every rule here is about how LiteLLM really reads its config: ``master_key`` and ``database_url``
only from ``general_settings``; fallbacks from ``router_settings`` (or ``litellm_settings``), never
from ``general_settings``; secrets from ``os.environ/NAME`` only (``${NAME}`` is taken literally).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from llmfleet.importer.compose import ComposeFile
from llmfleet.importer.deployments import (
    Deployment,
    is_openai_name,
    is_shell_ref,
    provider_env,
    secret_value,
    shell_vars,
)
from llmfleet.importer.findings import Finding, Severity, describe_literal, make, url_password
from llmfleet.importer.source import YamlSource
from llmfleet.inventory.problems import FieldPath, format_path
from llmfleet.inventory.secrets import LITERAL_SECRET_PATTERNS, PUBLIC_EXAMPLE_KEYS, looks_like_literal_secret

SECRET_KEY = re.compile(r"(^|_)(api_key|master_key|password|passwd|secret|secret_key|token|access_key|private_key)$", re.I)
URL_KEY = re.compile(r"(^|_)url$", re.I)
FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
NEW_KEY = "echo sk-$(openssl rand -hex 24)"


def section(config: YamlSource, name: str) -> dict[str, Any]:
    """A top-level settings mapping (empty when absent or not a mapping)."""
    value = config.data.get(name)
    return value if isinstance(value, dict) else {}


def iter_scalars(data: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    """Every scalar in ``data`` with its path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from iter_scalars(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from iter_scalars(value, (*path, index))
    else:
        yield path, data


def parse_fallbacks(value: Any, path: FieldPath) -> list[tuple[str, list[str], FieldPath]]:
    """``[{a: [b, c]}, ...]`` or ``{a: [b, c]}`` → ``[(a, [b, c], path of the list)]``."""
    entries: list[tuple[Any, Any, FieldPath]] = []
    if isinstance(value, dict):
        entries = [(k, v, (*path, str(k))) for k, v in value.items()]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                entries += [(k, v, (*path, index, str(k))) for k, v in item.items()]
    out = []
    for key, targets, where in entries:
        names = [targets] if isinstance(targets, str) else targets if isinstance(targets, list) else []
        out.append((str(key), [str(t) for t in names if isinstance(t, (str, int, float))], where))
    return out


def all_fallbacks(config: YamlSource, kind: str) -> list[tuple[str, list[str], FieldPath]]:
    """Fallback rules of ``kind`` wherever the config put them (router, litellm, general settings)."""
    out = []
    for name in ("router_settings", "litellm_settings", "general_settings"):
        if kind in section(config, name):
            out += parse_fallbacks(section(config, name)[kind], (name, kind))
    return out


class ConfigChecker:
    """Collects the findings of one LiteLLM config."""

    def __init__(self, config: YamlSource, deployments: list[Deployment], compose: ComposeFile | None):
        self.config = config
        self.deployments = deployments
        self.compose = compose
        self.findings: list[Finding] = []
        self.seen: set[FieldPath] = set()

    def run(self) -> list[Finding]:
        """All findings, in file order of the checks."""
        self.duplicates()
        self.env_syntax()
        self.master_key()
        self.misplaced()
        for deployment in self.deployments:
            self.deployment(deployment)
        self.fallback_targets()
        self.literal_secrets()
        self.debug()
        return self.findings

    # ----- helpers -----
    def add(self, code: str, path: FieldPath, problem: str, fix: str, *, line: int | None = None, severity: Severity | None = None) -> None:
        finding = make(code, self.config.file, line or self.config.line(path), path, problem, fix, severity)
        self.findings.append(finding)
        self.seen.add(tuple(path))

    def compose_env(self, name: str) -> bool:
        """True when the compose file's LiteLLM service sets ``name`` (a value or a pass-through)."""
        service = self.compose.litellm if self.compose else None
        return service is not None and name in service.environment

    # ----- checks -----
    def duplicates(self) -> None:
        for dup in self.config.duplicates:
            self.add(
                "duplicate-key",
                dup.path,
                f"'{dup.path[-1]}' is given twice (first at line {dup.first_line}); LiteLLM's YAML loader keeps "
                "only this last one, so everything under the first is silently dropped.",
                f"merge the two '{dup.path[-1]}' blocks into one.",
                line=dup.line,
            )

    def env_syntax(self) -> None:
        for path, value in iter_scalars(self.config.data):
            if not isinstance(value, str) or not shell_vars(value):
                continue
            names = shell_vars(value)
            key = str(path[-1]) if path and isinstance(path[-1], str) else format_path(path)
            consequence = ""
            if key == "master_key":
                consequence = " The admin key is then that literal text, which anyone who reads the file knows."
            elif SECRET_KEY.search(key):
                consequence = " The provider receives that text as the key and every request fails authentication."
            problem = (
                f"'${{{names[0]}}}' is shell/compose syntax: LiteLLM does not expand it and uses the text as is for {key}.{consequence}"
            )
            if is_shell_ref(value):
                fix = f"write {key}: os.environ/{names[0]} (the only form LiteLLM resolves); in the inventory: env:{names[0]}."
            else:
                fix = (
                    "LiteLLM cannot substitute inside a string: put the whole value in one variable and write "
                    f"{key}: os.environ/<THAT_VARIABLE> (inventory: env:<THAT_VARIABLE>)."
                )
            self.add("env-syntax", path, problem, fix)

    def master_key(self) -> None:
        general = section(self.config, "general_settings")
        settings = section(self.config, "litellm_settings")
        env_key = self.compose_env("LITELLM_MASTER_KEY")
        if "master_key" in settings:
            value = settings["master_key"]
            problem = (
                "master_key is under litellm_settings, where LiteLLM does not read it (only general_settings.master_key "
                "or the LITELLM_MASTER_KEY variable count)"
            )
            if env_key:
                problem += "; the key in effect is LITELLM_MASTER_KEY from the compose file, not this one."
            elif "master_key" not in general:
                problem += ": unless LITELLM_MASTER_KEY is set in the proxy's environment, the proxy accepts every request without a key."
            else:
                problem += "."
            if isinstance(value, str) and value in PUBLIC_EXAMPLE_KEYS:
                problem += f" Its value is also the public example key {value}."
            elif isinstance(value, (str, int)) and not str(value).startswith("os.environ/") and not is_shell_ref(str(value)):
                problem += " Its value is also a literal key in the file."
            self.add(
                "master-key-ignored",
                ("litellm_settings", "master_key"),
                problem,
                "move it to general_settings.master_key: os.environ/LITELLM_MASTER_KEY (LiteLLM); in the inventory "
                f"gateway.master_key: env:LITELLM_MASTER_KEY, holding a generated key ({NEW_KEY}).",
            )
        if "master_key" in general:
            value = general["master_key"]
            path = ("general_settings", "master_key")
            text = str(value) if value is not None else ""
            if text in PUBLIC_EXAMPLE_KEYS:
                self.add(
                    "public-example-key",
                    path,
                    f"general_settings.master_key is the public example key {text}: anyone who has read LiteLLM's docs "
                    "has admin access to the proxy (it also overrides LITELLM_MASTER_KEY from the environment).",
                    f"generate a key ({NEW_KEY}), set general_settings.master_key: os.environ/LITELLM_MASTER_KEY; "
                    "inventory: gateway.master_key: env:LITELLM_MASTER_KEY.",
                )
            elif text and not text.startswith("os.environ/") and not shell_vars(text):
                self.add(
                    "literal-secret",
                    path,
                    f"general_settings.master_key is {describe_literal(text)} in the config file: whoever can read the "
                    "file (repository, backups, image layers) has admin access.",
                    "set general_settings.master_key: os.environ/LITELLM_MASTER_KEY and rotate the key; inventory: "
                    "gateway.master_key: env:LITELLM_MASTER_KEY.",
                )
        elif "master_key" not in settings:
            self.missing_master_key()

    def missing_master_key(self) -> None:
        service = self.compose.litellm if self.compose else None
        fix = (
            f"generate a key ({NEW_KEY}) and set general_settings.master_key: os.environ/LITELLM_MASTER_KEY; "
            "inventory: gateway.master_key: env:LITELLM_MASTER_KEY (the draft has it)."
        )
        if service is not None and self.compose is not None:
            if "LITELLM_MASTER_KEY" in service.environment or service.env_files:
                return  # set in the compose file, or possibly in its env_file (not read: it holds secrets)
            self.findings.append(
                make(
                    "master-key-missing",
                    self.compose.source.file,
                    self.compose.source.line(service.path),
                    service.path,
                    "neither the LiteLLM config nor this service sets a master key (general_settings.master_key / "
                    "LITELLM_MASTER_KEY): the proxy accepts every request without a key.",
                    fix,
                )
            )
            return
        self.add(
            "master-key-missing",
            ("general_settings",),
            "the config sets no general_settings.master_key: unless LITELLM_MASTER_KEY is set in the proxy's "
            "environment, it accepts every request without a key.",
            fix,
            severity="warning",
        )

    def misplaced(self) -> None:
        general = section(self.config, "general_settings")
        for key in FALLBACK_KEYS:
            if key not in general:
                continue
            target = {"fallbacks": "routing.fallbacks", "context_window_fallbacks": "routing.context_window_fallbacks"}.get(key)
            inventory = (
                f"inventory: {target} with routing.fallback_mode: auto (the draft does this)"
                if target
                else "the inventory has no field for it yet (kept out of the draft)"
            )
            self.add(
                "fallbacks-ignored",
                ("general_settings", key),
                f"{key} is under general_settings, where LiteLLM does not read it: these fallbacks never fire.",
                f"move it to router_settings.{key} (LiteLLM); {inventory}.",
            )
        settings = section(self.config, "litellm_settings")
        if "database_url" in settings:
            consequence = (
                "the DATABASE_URL from the compose file is what connects the database."
                if self.compose_env("DATABASE_URL")
                else "the proxy runs without a database: no virtual keys, no spend logs, no per-request cost."
            )
            self.add(
                "database-url-ignored",
                ("litellm_settings", "database_url"),
                f"database_url is under litellm_settings, where LiteLLM does not read it; {consequence}",
                "set general_settings.database_url: os.environ/DATABASE_URL (or DATABASE_URL in the environment); "
                "inventory: gateway.database.url: env:DATABASE_URL, or gateway.database.bundled to run Postgres beside the gateway.",
            )

    def deployment(self, d: Deployment) -> None:
        model_path = (*d.path, "litellm_params", "model")
        if d.prefix == "ollama" and d.mode == "chat":
            self.add(
                "ollama-prefix",
                model_path,
                f"'{d.model}' uses the ollama/ route (Ollama's /api/generate), which does not pass tools: tool/function "
                "calls are dropped or emulated with a JSON prompt, so tool-using clients break.",
                f"write ollama_chat/{d.upstream} (the /api/chat route, native tool calling); in the inventory a model on an "
                "ollama backend renders as openai/ on Ollama's /v1 by default, which keeps tools too (leave litellm_prefix unset).",
            )
        if d.prefix is None and not d.model.startswith("os.environ/"):
            self.unprefixed(d, model_path)
        self.api_key(d)

    def unprefixed(self, d: Deployment, model_path: FieldPath) -> None:
        if d.local and is_openai_name(d.model):
            api_base = d.endpoint.url if d.endpoint else "its api_base"
            self.add(
                "openai-name-mapping",
                model_path,
                f"'{d.model}' is an OpenAI model name used for the server at {api_base}: LiteLLM treats the server as "
                f"OpenAI's {d.model} (cost is tracked at OpenAI's prices, the real model id is hidden, OpenAI-specific "
                "handling applies).",
                "write openai/<the id the server reports at /v1/models> (e.g. openai/" + _slug(d.model_name) + "); "
                "inventory: a backend plus the model's upstream id (the draft guesses it; check the TODO).",
            )
        elif d.local:
            self.add(
                "unprefixed-model",
                model_path,
                f"'{d.model}' has no provider prefix: LiteLLM cannot tell which API the server at its api_base speaks.",
                f"write openai/{d.model} for an OpenAI-compatible server or ollama_chat/{d.model} for Ollama; inventory: "
                "a backend of the matching kind.",
            )
        else:
            provider = d.provider
            guess = f"{provider}/{d.model}" if provider else "<provider>/" + d.model
            self.add(
                "unprefixed-model",
                model_path,
                f"'{d.model}' has no provider prefix: LiteLLM guesses the provider"
                + (f" ({provider})" if provider else "")
                + " from its built-in model list, and an id missing from that list fails with 'LLM Provider NOT provided'.",
                f"write {guess}; inventory: provider: {provider or '<provider>'}, upstream: {d.model}.",
            )

    def api_key(self, d: Deployment) -> None:
        if "api_key" not in d.params:
            return
        path = (*d.path, "litellm_params", "api_key")
        raw = d.params["api_key"]
        env = "LLAMA_API_KEY" if d.local else provider_env(d.provider or "provider")
        value = secret_value(raw, env)
        text = str(raw)
        local_dummy = d.local and value.is_literal and len(text) < 16 and looks_like_literal_secret(text) in (None, "an OpenAI-style key")
        if value.kind == "placeholder" or (local_dummy and text not in PUBLIC_EXAMPLE_KEYS):
            self.add(
                "placeholder-api-key",
                path,
                f"api_key is the placeholder '{raw}': LiteLLM sends it as a bearer token and the server ignores it, "
                "i.e. the server answers anyone without authentication.",
                "nothing to carry over: for a server without a key llmfleet renders its own harmless placeholder (so LiteLLM "
                "never sends the gateway's OPENAI_API_KEY there); if the server should check a key (llama-server --api-key, "
                "vllm --api-key), reference it: os.environ/LLAMA_API_KEY, inventory backends[].api_key: env:LLAMA_API_KEY.",
            )
        elif value.is_literal:
            code = "public-example-key" if text in PUBLIC_EXAMPLE_KEYS else "literal-secret"
            self.add(
                code,
                path,
                f"api_key of '{d.model_name}' is {describe_literal(text)} in the config file: anyone who can read the "
                "file can use (and bill) the account.",
                f"api_key: os.environ/{env} in LiteLLM; inventory: "
                + ("backends[].api_key" if d.local else "models[].api_key")
                + f": env:{env} (the draft has it). Rotate the key: it has been in a file.",
            )

    def fallback_targets(self) -> None:
        names = {d.model_name for d in self.deployments}
        if not names:
            return
        for kind in FALLBACK_KEYS:
            for key, targets, where in all_fallbacks(self.config, kind):
                if key not in names and key != "*":
                    self.add(
                        "fallback-target-unknown",
                        where,
                        f"{kind} rule for '{key}', which is not a model_name in model_list: it never applies.",
                        f"use a model_name from model_list as the key (inventory: a model or group named '{key}'), or remove the rule.",
                    )
                for target in targets:
                    if target not in names:
                        self.add(
                            "fallback-target-unknown",
                            (*where, target),
                            f"{kind} target '{target}' (for '{key}') is not a model_name in model_list: LiteLLM can only "
                            "fall back to a model group it has, so this step fails.",
                            f"add a model_list entry named '{target}' (inventory: a model or group of that name) or drop it from the list.",
                            line=self.config.find_line(where, target),
                        )

    def literal_secrets(self) -> None:
        for path, value in iter_scalars(self.config.data):
            if tuple(path) in self.seen or value is None or isinstance(value, (bool, int, float)) or not path:
                continue  # numbers (costs, limits) are never credentials
            text = str(value).strip()
            if not text or text.startswith("os.environ/") or shell_vars(text):
                continue
            key = str(path[-1])
            password = url_password(text)
            if URL_KEY.search(key) or key == "api_base":
                literal = password is not None
            elif SECRET_KEY.search(key):
                literal = secret_value(text, "X").is_literal
            else:
                literal = password is not None or any(pattern.search(text) for _, pattern in LITERAL_SECRET_PATTERNS)
            if not literal:
                continue
            env = _env_for(key)
            code = "public-example-key" if text in PUBLIC_EXAMPLE_KEYS else "literal-secret"
            self.add(
                code,
                path,
                f"{format_path(path)} is {describe_literal(text)} in the config file.",
                f"reference it instead: {key}: os.environ/{env} (LiteLLM); in the inventory an env:{env} reference. "
                "Rotate it: it has been in a file.",
            )

    def debug(self) -> None:
        for section_name in ("litellm_settings", "general_settings", "router_settings"):
            for key in ("set_verbose", "detailed_debug"):
                if section(self.config, section_name).get(key) is True:
                    self.add(
                        "debug-logging",
                        (section_name, key),
                        f"{key}: true makes LiteLLM log every request and response in full (prompts, completions, "
                        "metadata): private data ends up in the logs.",
                        "remove it in production; use json_logs for structured logs (inventory: gateway.logging.json_logs: true).",
                    )


def _env_for(key: str) -> str:
    upper = re.sub(r"[^A-Z0-9]+", "_", key.upper()).strip("_")
    return {"DATABASE_URL": "DATABASE_URL", "REDIS_PASSWORD": "REDIS_PASSWORD", "MASTER_KEY": "LITELLM_MASTER_KEY"}.get(
        upper, upper or "SECRET"
    )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._:/-]+", "-", name).strip("-") or "model"


def check_config(config: YamlSource, deployments: list[Deployment], compose: ComposeFile | None) -> list[Finding]:
    """Every finding in a LiteLLM config."""
    return ConfigChecker(config, deployments, compose).run()
