"""What render_fleet writes: per-host files, LiteLLM keys, compose, units, mesh files."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from llmfleet.inventory.model import Inventory
from llmfleet.render import RenderedFile, RenderError, engine, render_fleet
from llmfleet.render.context import NO_KEY_PLACEHOLDER, intended_acl, parse_args_file
from llmfleet.render.engine import systemd_arg, yaml_scalar
from llmfleet.render.validate import hujson_loads

from .conftest import FLEETS, fixture_data, load_yaml


def by_rel(files: list[RenderedFile]) -> dict[str, RenderedFile]:
    return {f.relpath: f for f in files}


def litellm_config(inv: Inventory, host: str = "gw1") -> dict:
    return load_yaml(by_rel(render_fleet(inv))[f"{host}/litellm/config.yaml"].content)


def exec_args(unit: str) -> list[str]:
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def unit_env(unit: str) -> dict[str, str]:
    pairs = [shlex.split(line.removeprefix("Environment="))[0] for line in unit.splitlines() if line.startswith("Environment=")]
    return dict(p.split("=", 1) for p in pairs)


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("fleet", FLEETS)
def test_render_is_deterministic_and_sorted(inventories, fleet):
    first = render_fleet(inventories[fleet])
    second = render_fleet(inventories[fleet])
    assert first == second
    assert [f.relpath for f in first] == sorted(f.relpath for f in first)
    assert all(f.relpath.startswith(f"{f.host}/") for f in first)


def test_render_does_not_depend_on_the_environment(inventories, monkeypatch):
    before = render_fleet(inventories["full"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-realvalue-0123456789")
    monkeypatch.setenv("HOME", "/nonexistent")
    assert render_fleet(inventories["full"]) == before


@pytest.mark.parametrize("fleet", FLEETS)
def test_every_file_starts_with_the_header(inventories, fleet):
    for f in render_fleet(inventories[fleet]):
        first = f.content.splitlines()[0]
        assert first in (
            f"# Rendered by llmfleet from fleet {fleet} — do not edit",
            f"// Rendered by llmfleet from fleet {fleet} — do not edit",
        )
        assert f.content.endswith("\n") and not f.content.endswith("\n\n")


def test_each_host_gets_only_what_it_needs(inventories):
    rels = {f.relpath for f in render_fleet(inventories["full"])}
    assert rels == {
        "gw1/headscale/acl.hujson",
        "gw1/headscale/config.yaml",
        "gw1/litellm/.env.example",
        "gw1/litellm/config.yaml",
        "gw1/litellm/docker-compose.yml",
        "gw1/systemd/headscale.service",
        "gw1/systemd/tailscaled.service",
        "gw1/tailscale/up.args",
        "gpu1/nftables/llmfleet.nft",
        "gpu1/ollama/models.txt",
        "gpu1/systemd/llama-server-llama-gpu1.service",
        "gpu1/systemd/llmfleet-firewall.service",
        "gpu1/systemd/ollama.service",
        "gpu1/systemd/ollama.service.d/llmfleet.conf",
        "gpu1/systemd/tailscaled.service",
        "gpu1/tailscale/up.args",
        "gpu2/nftables/llmfleet.nft",
        "gpu2/systemd/llama-server-llama-gpu2.service",
        "gpu2/systemd/llmfleet-firewall.service",
        "gpu2/systemd/tailscaled.service",
        "gpu2/tailscale/up.args",
    }
    manual = {f.relpath for f in render_fleet(inventories["manual"])}
    assert "gw2/systemd/litellm.service" in manual and "gw2/litellm/config.yaml" in manual
    assert not any(r.startswith("gw2/headscale") for r in manual)
    assert not any("docker-compose" in r for r in manual)
    single = {f.relpath for f in render_fleet(inventories["single"])}
    assert not any("tailscale" in r or "headscale" in r for r in single), "no mesh, no mesh files"


def test_destinations_modes_and_services(inventories):
    files = by_rel(render_fleet(inventories["full"]))
    cfg = files["gw1/litellm/config.yaml"]
    assert (cfg.dest, cfg.mode, cfg.service) == ("/opt/llmfleet/litellm/config.yaml", 0o644, "compose:litellm")
    assert files["gw1/litellm/.env.example"].service is None
    unit = files["gpu1/systemd/llama-server-llama-gpu1.service"]
    assert (unit.dest, unit.service) == ("/etc/systemd/system/llama-server-llama-gpu1.service", "llama-server-llama-gpu1.service")
    assert files["gpu1/systemd/ollama.service.d/llmfleet.conf"].service == "ollama.service"
    assert all(f.mode == 0o644 and f.dest.startswith("/") for f in files.values())
    manual = by_rel(render_fleet(inventories["manual"]))
    assert manual["gw1/litellm/config.yaml"].service == "litellm.service"
    assert manual["gw1/litellm/config.yaml"].dest == "/srv/litellm/config.yaml"


# ----------------------------------------------------------------------------- LiteLLM config
def test_master_key_is_read_from_general_settings_only(inventories):
    for fleet, ref in (("full", "os.environ/LITELLM_MASTER_KEY"), ("manual", "os.environ/LITELLM_MASTER_KEY")):
        cfg = litellm_config(inventories[fleet])
        assert cfg["general_settings"]["master_key"] == ref
        assert "master_key" not in cfg["litellm_settings"] and "master_key" not in cfg["router_settings"]


def test_model_names_are_the_public_names(inventories):
    for fleet in FLEETS:
        inv = inventories[fleet]
        host = inv.hosts_with("gateway")[0].name
        assert {d["model_name"] for d in litellm_config(inv, host)["model_list"]} == set(inv.public_names())


def test_fallbacks_only_in_auto_mode(make_inventory):
    auto = litellm_config(make_inventory("full"))["router_settings"]
    assert auto["fallbacks"] == [{"deepseek-r1": ["gemini-flash"]}, {"qwen2.5-14b": ["claude-haiku"]}]
    assert auto["context_window_fallbacks"] == [{"qwen2.5-14b": ["claude-haiku"]}]

    def manual(data):
        data["routing"]["fallback_mode"] = "manual"  # fallbacks stay defined: they must not be rendered

    inv = make_inventory("full", manual)
    assert inv.routing.fallbacks, "the test keeps fallbacks in the inventory"
    text = by_rel(render_fleet(inv))["gw1/litellm/config.yaml"].content
    router = load_yaml(text)["router_settings"]
    assert "fallbacks" not in router and "context_window_fallbacks" not in router
    assert not re.search(r"^\s*(context_window_)?fallbacks:", text, re.M)


def test_router_settings(inventories):
    router = litellm_config(inventories["full"])["router_settings"]
    assert router["routing_strategy"] == "usage-based-routing-v2"
    assert (router["num_retries"], router["timeout"], router["stream_timeout"]) == (2, 120, 30.5)
    assert (router["cooldown_time"], router["allowed_fails"]) == (60, 3)
    assert router["enable_pre_call_checks"] is True
    assert (router["redis_host"], router["redis_port"], router["redis_password"]) == ("redis", 6379, "os.environ/REDIS_PASSWORD")
    manual = litellm_config(inventories["manual"])["router_settings"]
    assert (manual["redis_host"], manual["redis_port"]) == ("100.64.0.9", 6380)
    assert "enable_pre_call_checks" not in manual, "no model declares a context window"


def test_litellm_and_general_settings(inventories):
    cfg = litellm_config(inventories["full"])
    assert cfg["litellm_settings"] == {
        "drop_params": True,
        "json_logs": True,
        "request_timeout": 120,
        "turn_off_message_logging": True,
        "callbacks": ["prometheus"],
    }
    assert cfg["general_settings"] == {
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "database_url": "os.environ/DATABASE_URL",
        "store_prompts_in_spend_logs": False,
        "background_health_checks": True,
        "health_check_interval": 300,
    }
    manual = litellm_config(inventories["manual"])
    assert manual["general_settings"]["database_url"] == "os.environ/LITELLM_DATABASE_URL"
    assert manual["general_settings"]["background_health_checks"] is False
    assert "health_check_interval" not in manual["general_settings"]
    assert manual["litellm_settings"]["turn_off_message_logging"] is False


def test_model_routes(inventories):
    deployments = {d["model_name"]: d for d in litellm_config(inventories["full"])["model_list"]}
    qwen = deployments["qwen2.5-14b"]
    # Ollama chat: LiteLLM's openai/ route on Ollama's /v1 (tool calls survive it at the least overhead:
    # benchmarks/RESULTS-ollama-routes.md), with the placeholder key so the gateway's own OPENAI_API_KEY is never sent
    assert qwen["litellm_params"] == {
        "model": "openai/qwen2.5:14b-instruct",
        "api_base": "http://100.64.0.2:11434/v1",
        "api_key": NO_KEY_PLACEHOLDER,
    }
    embed = deployments["nomic-embed"]
    assert embed["litellm_params"]["model"] == "ollama/nomic-embed-text:latest", "LiteLLM embeds via ollama/ only"
    assert embed["model_info"]["mode"] == "embedding" and "health_check_max_tokens" not in embed["model_info"]
    r1 = deployments["deepseek-r1"]["litellm_params"]
    assert r1 == {
        "model": "openai/DeepSeek-R1-0528-Qwen3-8B",
        "api_base": "http://100.64.0.2:8080/v1",
        "api_key": "os.environ/LLAMA_API_KEY",
    }
    small = deployments["small"]["litellm_params"]
    assert small["api_key"] == NO_KEY_PLACEHOLDER, "never fall back to the gateway's OPENAI_API_KEY"
    assert deployments["claude-haiku"]["litellm_params"] == {
        "model": "anthropic/claude-3-5-haiku-20241022",
        "api_key": "os.environ/ANTHROPIC_API_KEY",
    }
    assert deployments["gemini-flash"]["litellm_params"]["api_key"] == "os.environ/GEMINI_API_KEY", "file: refs by file name"
    vllm = {d["model_name"]: d for d in litellm_config(inventories["manual"])["model_list"]}["vllm-model"]["litellm_params"]
    assert vllm["model"] == "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct" and vllm["api_base"] == "http://100.64.0.2:8000/v1"


def test_model_info_metadata(inventories):
    deployments = {d["model_name"]: d for d in litellm_config(inventories["full"])["model_list"]}
    info = deployments["claude-haiku"]["model_info"]
    assert info["mode"] == "chat" and info["max_input_tokens"] == 200000
    assert info["health_check_max_tokens"] == 1
    assert info["llmfleet_tools"] == "required" and info["llmfleet_tags"] == ["fast", "cheap"]


def test_group_members_become_deployments_under_the_group_name(inventories):
    smart = [d for d in litellm_config(inventories["full"])["model_list"] if d["model_name"] == "smart"]
    assert [d["litellm_params"]["model"] for d in smart] == ["anthropic/claude-3-5-haiku-20241022", "gemini/gemini-2.5-flash"]
    assert (smart[0]["litellm_params"]["tpm"], smart[0]["litellm_params"]["rpm"]) == (1000000, 1000)
    assert smart[1]["litellm_params"]["weight"] == 2 and "tpm" not in smart[1]["litellm_params"]
    assert smart[0]["model_info"]["llmfleet_member"] == "claude-haiku"


def test_model_rate_limits_render_and_group_members_override_them(make_inventory):
    def edit(data):
        for m in data["models"]:
            if m["name"] in ("claude-haiku", "gemini-flash"):
                m.update(tpm=400000, rpm=60)

    model_list = litellm_config(make_inventory("full", edit))["model_list"]
    haiku = next(d for d in model_list if d["model_name"] == "claude-haiku")
    assert (haiku["litellm_params"]["tpm"], haiku["litellm_params"]["rpm"]) == (400000, 60)
    smart = [d for d in model_list if d["model_name"] == "smart"]
    assert (smart[0]["litellm_params"]["tpm"], smart[0]["litellm_params"]["rpm"]) == (1000000, 1000)  # the member's own
    assert (smart[1]["litellm_params"]["tpm"], smart[1]["litellm_params"]["rpm"]) == (400000, 60)  # the model's


def test_config_has_no_shell_interpolation_and_keys_are_references(inventories):
    for fleet in FLEETS:
        inv = inventories[fleet]
        for f in render_fleet(inv):
            if f.relpath.endswith("litellm/config.yaml"):
                assert "${" not in f.content
                for d in load_yaml(f.content)["model_list"]:
                    key = d["litellm_params"].get("api_key")
                    assert key is None or key == NO_KEY_PLACEHOLDER or key.startswith("os.environ/")


def test_no_secret_value_reaches_any_file(inventories, monkeypatch, tmp_path):
    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-AAAAAAAAAAAAAAAAAAAA",
        "LITELLM_MASTER_KEY": "sk-master-0123456789abcdef0123456789",
        "POSTGRES_PASSWORD": "pg-very-secret-value-1",
        "REDIS_PASSWORD": "redis-very-secret-value-2",
        "LLAMA_API_KEY": "llama-very-secret-value-3",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "gemini-api-key").write_text("AIzaSyA-gemini-very-secret-value-4444")
    monkeypatch.setenv("HOME", str(tmp_path))
    for f in render_fleet(inventories["full"]):
        for value in [*secrets.values(), "AIzaSyA-gemini-very-secret-value-4444"]:
            assert value not in f.content, f"{f.relpath} contains a secret value"


def test_upstream_ids_and_odd_strings_stay_strings():
    yaml = pytest.importorskip("yaml")  # PyYAML: the YAML 1.1 parser LiteLLM itself uses
    for value in ["qwen2.5:14b", "on", "yes", "no", "null", "~", "0755", "1e3", "a: b", "#x", "- x", 'it\'s "q" \\', "é—ü", "", "*a", "@x"]:
        text = f"k: {yaml_scalar(value)}\n"
        assert yaml.safe_load(text) == {"k": value}
        assert load_yaml(text) == {"k": value}
    assert yaml.safe_load(f"k: {yaml_scalar(['a:b', 1, True, None])}") == {"k": ["a:b", 1, True, None]}


# ----------------------------------------------------------------------------- .env.example
def test_env_example_names_every_secret_once_sorted_without_values(inventories):
    text = by_rel(render_fleet(inventories["full"]))["gw1/litellm/.env.example"].content
    assignments = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert assignments == [
        "ANTHROPIC_API_KEY=",
        "GEMINI_API_KEY=",
        "LITELLM_MASTER_KEY=",
        "LITELLM_SALT_KEY=",
        "LLAMA_API_KEY=",
        "POSTGRES_PASSWORD=",
        "REDIS_PASSWORD=",
    ]
    assert "# from file:~/.secrets/gemini-api-key" in text
    assert "# from env:ANTHROPIC_API_KEY" in text
    manual = by_rel(render_fleet(inventories["manual"]))["gw1/litellm/.env.example"].content
    assert "LITELLM_DATABASE_URL=" in manual and "# from file:~/.secrets/litellm-master-key" in manual


# ----------------------------------------------------------------------------- compose
def test_compose_bridge_with_bundled_services(inventories):
    doc = load_yaml(by_rel(render_fleet(inventories["full"]))["gw1/litellm/docker-compose.yml"].content)
    litellm = doc["services"]["litellm"]
    assert doc["name"] == "litellm"
    assert litellm["image"] == "ghcr.io/berriai/litellm:main-v1.106.2"
    assert litellm["command"] == ["--config", "/app/config.yaml", "--host", "0.0.0.0", "--port", "4000", "--num_workers", "2"]
    assert litellm["ports"] == ["0.0.0.0:4000:4000"]
    assert litellm["env_file"] == ".env" and litellm["restart"] == "unless-stopped"
    assert litellm["volumes"] == ["./config.yaml:/app/config.yaml:ro"]
    assert "/health/liveliness" in litellm["healthcheck"]["test"][-1]
    assert litellm["depends_on"] == {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert (
        litellm["environment"]["DATABASE_URL"]
        == "postgresql://litellm:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@postgres:5432/litellm"
    )
    for name in ("postgres", "redis"):
        svc = doc["services"][name]
        assert "ports" not in svc, f"{name} must not be published"
        assert "healthcheck" in svc and svc["restart"] == "unless-stopped"
    assert doc["services"]["postgres"]["image"] == "postgres:16.4"
    assert "pg_isready" in doc["services"]["postgres"]["healthcheck"]["test"]
    redis_cmd = " ".join(doc["services"]["redis"]["command"])
    assert "$$REDIS_PASSWORD" in redis_cmd and "--requirepass" not in redis_cmd, "password never on a command line"
    assert set(doc["volumes"]) == {"pgdata", "redisdata"}


def test_compose_shares_the_host_network_for_loopback_backends(inventories):
    doc = load_yaml(by_rel(render_fleet(inventories["single"]))["box/litellm/docker-compose.yml"].content)
    litellm = doc["services"]["litellm"]
    assert litellm["network_mode"] == "host" and "ports" not in litellm
    assert litellm["command"][litellm["command"].index("--host") + 1] == "127.0.0.1"


# ----------------------------------------------------------------------------- systemd
def test_litellm_unit_for_the_venv_runtime(inventories):
    unit = by_rel(render_fleet(inventories["manual"]))["gw1/systemd/litellm.service"].content
    assert exec_args(unit) == [
        "/opt/llmfleet/litellm-venv/bin/litellm", "--config", "/srv/litellm/config.yaml",
        "--host", "100.64.0.1", "--port", "443", "--num_workers", "1",
    ]  # fmt: skip
    assert "EnvironmentFile=/srv/litellm/.env" in unit
    assert unit_env(unit)["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    for line in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DynamicUser=yes",
        "Restart=on-failure",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    ):
        assert line in unit.splitlines()
    assert "After=network-online.target tailscaled.service" in unit


def test_ollama_dropin_and_models_list(inventories):
    files = by_rel(render_fleet(inventories["full"]))
    env = unit_env(files["gpu1/systemd/ollama.service.d/llmfleet.conf"].content)
    assert env == {
        "OLLAMA_HOST": "100.64.0.2:11434",
        "OLLAMA_KEEP_ALIVE": "-1",
        "OLLAMA_NUM_PARALLEL": "2",
        "OLLAMA_MAX_LOADED_MODELS": "1",
        "OLLAMA_CONTEXT_LENGTH": "8192",
        "OLLAMA_KV_CACHE_TYPE": "q8_0",
        "OLLAMA_FLASH_ATTENTION": "1",
        "OLLAMA_MODELS": "/srv/ollama/models",
    }
    assert parse_args_file(files["gpu1/ollama/models.txt"].content) == ["nomic-embed-text:latest", "qwen2.5:14b-instruct"]
    single = unit_env(by_rel(render_fleet(inventories["single"]))["box/systemd/ollama.service.d/llmfleet.conf"].content)
    assert single["OLLAMA_HOST"] == "127.0.0.1:11434"


def test_llama_server_units(inventories):
    files = by_rel(render_fleet(inventories["full"]))
    unit = files["gpu1/systemd/llama-server-llama-gpu1.service"].content
    args = exec_args(unit)
    assert args[0] == "/opt/llmfleet/llama.cpp/b6500/llama-server"
    expect = {
        "--model": "/var/lib/llmfleet/models/DeepSeek-R1-0528-Qwen3-8B-UD-Q8_K_XL.gguf",
        "--host": "100.64.0.2", "--port": "8080", "--ctx-size": "32768", "--parallel": "4", "--n-gpu-layers": "37",
        "--flash-attn": "on", "--cache-type-k": "q8_0", "--cache-type-v": "q8_0", "--alias": "DeepSeek-R1-0528-Qwen3-8B",
        "--chat-template-kwargs": '{"enable_thinking": false}', "--threads": "8",
    }  # fmt: skip
    for flag, value in expect.items():
        assert args[args.index(flag) + 1] == value, flag
    assert "--jinja" in args
    assert "--embedding" not in args, "a chat server (llamacpp.embedding defaults to false)"
    assert args[-2:] == ["--api-key-file", "%d/api-key"]
    assert "LoadCredential=api-key:/etc/llmfleet/secrets/llama-gpu1.key" in unit
    assert "--api-key" not in args
    old = exec_args(files["gpu2/systemd/llama-server-llama-gpu2.service"].content)
    assert old[old.index("--flash-attn") + 1] == "--cache-type-k", "before b6327 --flash-attn is a bare switch"
    # '%' is a systemd specifier: the URL-encoded file name arrives unchanged only if doubled.
    assert old[old.index("--model") + 1] == "/var/lib/llmfleet/models/small-50%%25.gguf"


def test_systemd_arg_quoting():
    assert systemd_arg("/usr/bin/x") == "/usr/bin/x"
    assert systemd_arg('{"a": 1}') == '"{\\"a\\": 1}"'
    assert systemd_arg("100%") == '"100%%"'
    assert systemd_arg("$HOME") == '"$$HOME"'
    assert systemd_arg("a b\\c") == '"a b\\\\c"'
    with pytest.raises(RenderError):
        systemd_arg("two\nlines")


# ----------------------------------------------------------------------------- mesh
def test_acl_is_exactly_the_derived_policy(inventories):
    text = by_rel(render_fleet(inventories["full"]))["gw1/headscale/acl.hujson"].content
    policy = hujson_loads(text)
    assert policy == {
        "tagOwners": {"tag:gateway": ["llmfleet@"], "tag:gpu": ["llmfleet@"], "tag:headscale": ["llmfleet@"]},
        "hosts": {"gpu1": "100.64.0.2/32", "gpu2": "100.64.0.3/32"},
        "acls": [
            {"action": "accept", "src": ["tag:gateway"], "dst": ["gpu1:8080,11434"]},
            {"action": "accept", "src": ["tag:gateway"], "dst": ["gpu2:8081"]},
        ],
    }
    assert policy == intended_acl(inventories["full"])
    assert "*" not in json.dumps(policy)
    manual = hujson_loads(by_rel(render_fleet(inventories["manual"]))["gw1/headscale/acl.hujson"].content)
    assert manual["tagOwners"]["tag:gateway"] == ["llmfleet"], "Headscale < 0.26 names users without @"
    assert manual["hosts"]["redis"] == "100.64.0.9/32", "the external Redis on the mesh is reachable by the gateways"
    assert {"action": "accept", "src": ["tag:gateway"], "dst": ["redis:6380"]} in manual["acls"]


def test_headscale_config(inventories):
    files = by_rel(render_fleet(inventories["manual"]))
    cfg = load_yaml(files["gw1/headscale/config.yaml"].content)
    assert cfg["server_url"] == "https://hs.example.net"
    assert cfg["listen_addr"] == "127.0.0.1:8443"
    assert cfg["prefixes"]["v4"] == "100.64.0.0/10"
    assert cfg["dns"]["base_domain"] == "mesh.example.internal" and cfg["dns"]["magic_dns"] is True
    assert cfg["dns"]["override_local_dns"] is False, "true would require dns.nameservers.global"
    assert cfg["database"] == {"type": "sqlite", "sqlite": {"path": "/var/lib/headscale/db.sqlite", "write_ahead_log": True}}
    assert cfg["policy"] == {"mode": "file", "path": "/etc/headscale/acl.hujson"}
    assert cfg["noise"]["private_key_path"] == "/var/lib/headscale/noise_private.key"
    assert exec_args(files["gw1/systemd/headscale.service"].content) == [
        "/usr/local/bin/headscale", "serve", "--config", "/etc/headscale/config.yaml",
    ]  # fmt: skip


def test_tailscale_up_args_have_no_key(inventories):
    files = by_rel(render_fleet(inventories["full"]))
    gw = parse_args_file(files["gw1/tailscale/up.args"].content)
    assert gw == [
        "--login-server=https://hs.example.net",
        "--hostname=gw1",
        "--advertise-tags=tag:gateway,tag:headscale",
        "--accept-dns=false",
        "--accept-routes=false",
        "--reset",
    ]
    assert "--hostname=gpu-two" in parse_args_file(files["gpu2/tailscale/up.args"].content)
    for f in files.values():
        if f.relpath.endswith("up.args"):
            assert not any(a.startswith(("--auth-key", "--authkey")) or "tskey" in a for a in parse_args_file(f.content))


# ----------------------------------------------------------------------------- failures
def test_a_broken_template_raises_render_error(inventories, monkeypatch, tmp_path):
    broken = tmp_path / "templates"
    for path in engine.templates_dir().rglob("*.j2"):
        target = broken / path.relative_to(engine.templates_dir())
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (broken / "litellm" / "config.yaml.j2").write_text("{{ v.no_such_field }}\n", encoding="utf-8")
    monkeypatch.setattr(engine, "templates_dir", lambda: Path(broken))
    with pytest.raises(RenderError, match="no_such_field"):
        render_fleet(inventories["full"])


def test_templates_dir_is_the_repository_templates():
    assert engine.templates_dir() == Path(__file__).resolve().parents[2] / "templates"


def test_fixture_fleets_pass_the_inventory_rules():
    from llmfleet.inventory.problems import errors
    from llmfleet.inventory.rules import run_rules

    for fleet in FLEETS:
        problems = errors(run_rules(Inventory.model_validate(fixture_data(fleet))))
        assert not problems, [str(p) for p in problems]
