"""One test per kind of finding, on a seed where a seed has the mistake, else on a synthetic fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmfleet.importer import CODES, Finding, ImportResult, import_litellm

from .conftest import SEEDS, SYNTHETIC, line_of


def only(result: ImportResult, code: str, key_path: str | None = None) -> list[Finding]:
    return [f for f in result.findings if f.code == code and (key_path is None or f.key_path == key_path)]


def one(result: ImportResult, code: str, key_path: str) -> Finding:
    (finding,) = only(result, code, key_path)
    return finding


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_master_key_under_litellm_settings_is_ignored(results: dict[str, ImportResult]) -> None:
    f = one(results["open-proxy"], "master-key-ignored", "litellm_settings.master_key")
    assert f.severity == "error"
    assert "does not read it" in f.problem and "accepts every request without a key" in f.problem
    assert "literal key" in f.problem
    assert "general_settings.master_key: os.environ/LITELLM_MASTER_KEY" in f.fix and "gateway.master_key: env:LITELLM_MASTER_KEY" in f.fix
    assert f.line == line_of(SYNTHETIC / "open_proxy_config.yaml", "master_key: sk-live")
    assert not only(results["open-proxy"], "literal-secret", "litellm_settings.master_key")  # one finding per mistake


def test_master_key_missing_is_an_error_when_the_compose_file_sets_none(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "config.yaml",
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}\n",
    )
    compose = write(tmp_path, "compose.yaml", "services:\n  litellm:\n    image: ghcr.io/berriai/litellm:main-v1.106.2\n")
    f = one(import_litellm(config, compose), "master-key-missing", "services.litellm")
    assert f.severity == "error" and f.line == 2
    with_env_file = write(
        tmp_path, "c2.yaml", "services:\n  litellm:\n    image: ghcr.io/berriai/litellm:main-v1.106.2\n    env_file: .env\n"
    )
    assert not only(import_litellm(config, with_env_file), "master-key-missing")


def test_master_key_missing_without_compose_is_a_warning(results: dict[str, ImportResult]) -> None:
    f = one(results["mobius"], "master-key-missing", "general_settings")
    assert f.severity == "warning" and f.line is None


@pytest.mark.parametrize(("case", "key"), [("nova-adr009", "fallbacks"), ("open-proxy", "context_window_fallbacks")])
def test_fallbacks_under_general_settings_never_fire(results: dict[str, ImportResult], case: str, key: str) -> None:
    f = one(results[case], "fallbacks-ignored", f"general_settings.{key}")
    assert "never fire" in f.problem
    assert f"router_settings.{key}" in f.fix and f"routing.{key}" in f.fix and "fallback_mode: auto" in f.fix


def test_fallback_targets_must_be_model_names(results: dict[str, ImportResult]) -> None:
    f = one(results["mobius"], "fallback-target-unknown", "router_settings.fallbacks[1].fast-router.gpt-3.5-turbo")
    assert f.line == line_of(SEEDS / "mobius_router_config.yaml", '- fast-router: ["claude-3-haiku", "gpt-3.5-turbo"]')
    assert len(only(results["mobius"], "fallback-target-unknown")) == 6


def test_shell_syntax_in_the_litellm_config_is_not_expanded(results: dict[str, ImportResult]) -> None:
    f = one(results["netbox"], "env-syntax", "model_list[0].litellm_params.api_key")
    assert f.line == line_of(SEEDS / "netbox_litellm_config.yaml", "api_key: ${ANTHROPIC_API_KEY}")
    assert "does not expand" in f.problem
    assert "os.environ/ANTHROPIC_API_KEY" in f.fix and "env:ANTHROPIC_API_KEY" in f.fix
    embedded = one(results["open-proxy"], "env-syntax", "model_list[1].litellm_params.api_base")
    assert "cannot substitute inside a string" in embedded.fix


@pytest.mark.parametrize("case", ["pip", "nova-adr009", "netbox"])
def test_shell_syntax_in_compose_is_fine(results: dict[str, ImportResult], case: str) -> None:
    """Compose expands ${VAR} itself: Pip's LITELLM_MASTER_KEY=${LITELLM_MASTER_KEY} is correct."""
    assert [f for f in results[case].findings if f.code == "env-syntax" and f.file.endswith("_compose.yaml")] == []


def test_public_example_key(results: dict[str, ImportResult]) -> None:
    config = one(results["nova-adr009"], "public-example-key", "general_settings.master_key")
    compose = one(results["nova-adr009"], "public-example-key", "litellm.environment.LITELLM_MASTER_KEY")
    for f in (config, compose):
        assert "the public example key sk-1234" in f.problem and f.severity == "error"
        assert "openssl rand" in f.fix and "env:LITELLM_MASTER_KEY" in f.fix
    assert compose.file.endswith("nova_adr009_compose.yaml")


def test_literal_provider_key_is_masked_and_mapped(results: dict[str, ImportResult]) -> None:
    f = one(results["open-proxy"], "literal-secret", "model_list[0].litellm_params.api_key")
    assert "looks like an Anthropic API key" in f.problem
    assert "os.environ/ANTHROPIC_API_KEY" in f.fix and "Rotate" in f.fix
    assert "api_key: env:ANTHROPIC_API_KEY" in results["open-proxy"].inventory_yaml


@pytest.mark.parametrize(
    ("case", "key_path"),
    [
        ("nova-adr009", "litellm.environment.DATABASE_URL"),
        ("netbox", "services.litellm.environment.DATABASE_URL"),
    ],
)
def test_database_url_with_a_password(results: dict[str, ImportResult], case: str, key_path: str) -> None:
    f = one(results[case], "literal-secret", key_path)
    assert "postgresql://litellm:****@postgres:5432/litellm" in f.problem
    assert "${POSTGRES_PASSWORD}" in f.fix


def test_other_literal_secrets(results: dict[str, ImportResult]) -> None:
    assert one(results["open-proxy"], "literal-secret", "router_settings.redis_password").problem.endswith(
        "is a literal value in the config file."
    )
    assert one(results["policy"], "literal-secret", "services.litellm.environment.UI_PASSWORD")
    assert "literal default" in one(results["policy"], "literal-secret", "services.db.environment.POSTGRES_PASSWORD").problem


@pytest.mark.parametrize(
    ("case", "key_path", "tag"),
    [
        ("pip", "services.litellm.image", "main-latest"),
        ("nova-adr009", "litellm.image", "main-latest"),
        ("nova-adr009", "llamacpp.image", "server-cuda"),
        ("netbox", "services.litellm.image", "main-latest"),
        ("policy", "services.ollama.image", None),
        ("policy", "services.db.image", "16"),
    ],
)
def test_unpinned_images(results: dict[str, ImportResult], case: str, key_path: str, tag: str | None) -> None:
    f = one(results[case], "unpinned-image", key_path)
    assert (f"floating tag '{tag}'" if tag else "no tag") in f.problem


def test_unpinned_litellm_image_fix_and_draft_placeholder(results: dict[str, ImportResult]) -> None:
    f = one(results["netbox"], "unpinned-image", "services.litellm.image")
    assert "main-v1.106.2" in f.fix and "gateway.litellm_version: 1.106.2" in f.fix
    assert "litellm_version: 1.106.2  # TODO:" in results["netbox"].inventory_yaml


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("litellm", "compromised release"),
        ("litellm-canary", "proxy-auth SQL injection"),
    ],
)
def test_refused_litellm_versions(results: dict[str, ImportResult], service: str, message: str) -> None:
    f = one(results["policy"], "litellm-version-refused", f"services.{service}.image")
    assert message in f.problem and "1.106.2" in f.fix
    assert "litellm_version: 1.106.2  # TODO: the source ran 1.82.7, which policy refuses" in results["policy"].inventory_yaml


@pytest.mark.parametrize(("case", "index"), [("pip", 0), ("netbox", 1)])
def test_ollama_prefix_drops_tools(results: dict[str, ImportResult], case: str, index: int) -> None:
    f = one(results[case], "ollama-prefix", f"model_list[{index}].litellm_params.model")
    assert "tool" in f.problem and "ollama_chat/" in f.fix and f.severity == "warning"
    assert "litellm_prefix" not in results[case].inventory_yaml  # the draft derives ollama_chat


def test_backend_exposed_by_published_port_and_host_flag(results: dict[str, ImportResult]) -> None:
    ports = one(results["nova-adr009"], "backend-exposed", "llamacpp.ports[0]")
    host = one(results["nova-adr009"], "backend-exposed", "llamacpp.command")
    assert "every interface" in ports.problem and "127.0.0.1:8080:8080" in ports.fix
    assert "--host 0.0.0.0" in host.problem and "bind: mesh" in host.fix


def test_backend_exposed_by_ollama_host(results: dict[str, ImportResult]) -> None:
    unit = one(results["pip"], "backend-exposed", "Service.Environment.OLLAMA_HOST")
    assert unit.file.endswith("pip_ollama.service") and "OLLAMA_HOST=0.0.0.0" in unit.problem
    assert "100.64.0.2:11434" in unit.fix
    compose = one(results["policy"], "backend-exposed", "services.ollama.environment.OLLAMA_HOST")
    assert compose.line == line_of(SYNTHETIC / "policy_compose.yaml", "OLLAMA_HOST=0.0.0.0")


def test_host_flag_inside_a_bridge_network_without_ports_is_not_exposed(tmp_path: Path) -> None:
    """0.0.0.0 inside a container is reachable only from its compose network (how the gateway reaches it)."""
    config = write(
        tmp_path, "config.yaml", "model_list:\n  - model_name: a\n    litellm_params: {model: openai/m, api_base: http://llm:8080/v1}\n"
    )
    base = (
        "services:\n  llm:\n    image: ghcr.io/ggml-org/llama.cpp:server-b4589\n    command: --model /m.gguf --host 0.0.0.0 --port 8080\n"
    )
    assert not only(import_litellm(config, write(tmp_path, "a.yaml", base)), "backend-exposed")
    host_net = import_litellm(config, write(tmp_path, "b.yaml", base + "    network_mode: host\n"))
    assert "network_mode: host" in one(host_net, "backend-exposed", "services.llm.command").problem
    local_port = import_litellm(config, write(tmp_path, "c.yaml", base + '    ports: ["127.0.0.1:8080:8080"]\n'))
    assert not only(local_port, "backend-exposed")


def test_placeholder_api_key(results: dict[str, ImportResult]) -> None:
    f = one(results["nova-adr009"], "placeholder-api-key", "model_list[0].litellm_params.api_key")
    assert "not-required" in f.problem and "without authentication" in f.problem
    assert "LLAMA_API_KEY" in f.fix


def test_openai_model_name_for_a_local_server(results: dict[str, ImportResult]) -> None:
    f = one(results["nova-adr009"], "openai-name-mapping", "model_list[0].litellm_params.model")
    assert "gpt-3.5-turbo" in f.problem and "http://llamacpp:8080/v1" in f.problem
    assert "openai/DeepSeek-R1-0528-Qwen3-8B-UD-Q8_K_XL" in f.fix


@pytest.mark.parametrize(
    ("case", "key_path", "needle"),
    [
        ("netbox", "services.litellm.command", "--detailed_debug"),
        ("nova-adr009", "llamacpp.command", "--verbose"),
        ("mobius", "litellm_settings.set_verbose", "set_verbose"),
        ("policy", "services.litellm.environment.LITELLM_LOG", "LITELLM_LOG=DEBUG"),
    ],
)
def test_debug_logging_in_production(results: dict[str, ImportResult], case: str, key_path: str, needle: str) -> None:
    f = one(results[case], "debug-logging", key_path)
    assert needle in f.problem and "prompt" in f.problem


def test_database_url_under_litellm_settings(results: dict[str, ImportResult]) -> None:
    f = one(results["pip"], "database-url-ignored", "litellm_settings.database_url")
    assert "without a database" in f.problem
    assert "general_settings.database_url: os.environ/DATABASE_URL" in f.fix and "gateway.database.url: env:DATABASE_URL" in f.fix


def test_duplicate_key_keeps_the_last_block_like_litellm(results: dict[str, ImportResult]) -> None:
    f = one(results["pip"], "duplicate-key", "litellm_settings")
    assert "first at line" in f.problem
    assert "log_to_file" not in results["pip"].inventory_yaml  # the first block is what LiteLLM drops


def test_unprefixed_cloud_model(results: dict[str, ImportResult]) -> None:
    f = one(results["netbox"], "unprefixed-model", "model_list[0].litellm_params.model")
    assert "anthropic/claude-3-5-sonnet-20241022" in f.fix and f.severity == "warning"


def test_every_code_is_covered_by_a_test() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [code for code in CODES if f'"{code}"' not in source]
    assert missing == []


def test_clean_setup_has_no_findings(results: dict[str, ImportResult]) -> None:
    assert results["clean"].findings == []
    assert results["clean"].exit_code == 0
    assert all(results[name].exit_code == 1 for name in results if name != "clean")


# ----- coverage: every key of the source is in the draft or in a finding (judged by the generated key table)
COVERAGE_CONFIG = """\
model_list:
  - model_name: Nova Pro
    litellm_params:
      model: bedrock/amazon.nova-pro-v1:0
      temprature: 0.2
      description: shown to users
    model_info:
      id: nova-1
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  request_timeout: 600
  enable_cors: true
litellm_settings:
  drop_params: true
team_management:
  default_team: x
"""


def test_misplaced_unknown_dropped_renamed_and_salt_key(tmp_path: Path) -> None:
    result = import_litellm(write(tmp_path, "c.yaml", COVERAGE_CONFIG))
    f = one(result, "misplaced-key", "general_settings.request_timeout")
    assert "belongs under litellm_settings" in f.problem and "LiteLLM 1.106.2" in f.problem
    f = one(result, "misplaced-key", "model_list[0].litellm_params.description")
    assert "belongs under model_info" in f.problem
    assert "did you mean 'temperature'" in one(result, "unknown-key", "model_list[0].litellm_params.temprature").problem
    assert "not a section" in one(result, "unknown-key", "team_management").problem
    assert one(result, "unknown-key", "general_settings.enable_cors").severity == "error"
    assert "ids must be unique" in one(result, "dropped-setting", "model_list[0].model_info.id").problem
    f = one(result, "renamed-model", "model_list[0].model_name")
    assert "'Nova-Pro'" in f.problem and f.severity == "warning"
    f = one(result, "salt-key-missing", "general_settings")
    assert "current master key's value" in f.fix and f.severity == "warning"  # the config alone cannot show the environment
    assert "salt_key: env:LITELLM_SALT_KEY" in result.inventory_yaml
    for text in ("temprature", "enable_cors", "team_management", "request_timeout: 600"):
        assert text not in result.inventory_yaml.split("gateway:")[-1]


def test_published_database_is_exposed(tmp_path: Path) -> None:
    config = write(tmp_path, "c.yaml", "model_list: []\ngeneral_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n")
    compose = write(
        tmp_path,
        "compose.yaml",
        "services:\n  litellm:\n    image: ghcr.io/berriai/litellm:main-v1.106.2\n    environment:\n"
        "      LITELLM_SALT_KEY: ${LITELLM_SALT_KEY}\n      DATABASE_URL: postgresql://l:${PW}@db:5432/l\n"
        "  db:\n    image: postgres:16.4\n    ports: ['5432:5432']\n    environment:\n      POSTGRES_PASSWORD: ${PW}\n"
        "  watchtower:\n    image: containrrr/watchtower\n",
    )
    result = import_litellm(config, compose)
    f = one(result, "service-exposed", "services.db.ports[0]")
    assert "Postgres" in f.problem and "127.0.0.1:5432:5432" in f.fix
    assert not [x for x in result.findings if "watchtower" in x.key_path]  # not part of the proxy's setup
    assert not only(result, "salt-key-missing")


def test_inferred_mode_is_said(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "c.yaml",
        "model_list:\n  - model_name: nomic\n    litellm_params: {model: openai/nomic-embed-v1.5, api_base: 'http://10.0.0.5:8080/v1'}\n"
        "  - model_name: known\n    litellm_params: {model: azure/text-embedding-3-large, api_base: os.environ/AZURE_API_BASE, "
        "api_key: os.environ/AZURE_API_KEY}\ngeneral_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n",
    )
    result = import_litellm(config)
    f = one(result, "inferred-mode", "model_list[0].model_info.mode")
    assert "health check" in f.problem and "mode: embedding" in f.problem and f.severity == "warning"
    assert not only(result, "inferred-mode", "model_list[1].model_info.mode")  # LiteLLM's cost map knows it: no guess
