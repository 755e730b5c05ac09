"""``gateway.logging.request_log``: rendered callback module, LiteLLM config, compose mounts, unit directory.

The real LiteLLM running the rendered module: tests/lab/test_request_log_real.py (loopback) and
tests/seeds/test_live_pip.py (booted hosts).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from llmfleet.inventory import load_inventory
from llmfleet.layout import REQUEST_LOG_CALLBACK, REQUEST_LOG_FILE, REQUEST_LOG_MODULE
from llmfleet.render import render_fleet
from llmfleet.render.validate import validate_rendered

REPO = Path(__file__).resolve().parents[2]


def rendered(tmp_path: Path, inventory: str, request_log: bool) -> dict[str, str]:
    overlay = tmp_path / "overlay.yml"
    overlay.write_text(yaml.safe_dump({"gateway": {"logging": {"request_log": request_log}}}))
    inv = load_inventory(REPO / "inventories" / inventory, overlay)
    files = render_fleet(inv)
    assert not [p for p in validate_rendered(files, inv) if p.severity == "error"]
    return {f.relpath: f.content for f in files}


def test_compose_gateway_loads_the_callback_and_mounts_the_record_directory(tmp_path: Path) -> None:
    out = rendered(tmp_path, "pip.yml", True)
    config = yaml.safe_load(out["vps/litellm/config.yaml"])
    assert REQUEST_LOG_CALLBACK in config["litellm_settings"]["callbacks"]
    compose = yaml.safe_load(out["vps/litellm/docker-compose.yml"])["services"]["litellm"]
    assert f"./{REQUEST_LOG_MODULE}.py:/app/{REQUEST_LOG_MODULE}.py:ro" in compose["volumes"]
    assert "/var/log/litellm:/var/log/litellm" in compose["volumes"]
    assert compose["environment"]["LLMFLEET_REQUEST_LOG"] == REQUEST_LOG_FILE
    module = out[f"vps/litellm/{REQUEST_LOG_MODULE}.py"]
    compile(module, "module", "exec")
    assert "handler = RequestLog()" in module and "messages" not in module.split('"""', 2)[2]


def test_systemd_gateway_gets_a_logs_directory(tmp_path: Path) -> None:
    out = rendered(tmp_path, "lab.yml", True)
    unit = out["gw1/systemd/litellm.service"]
    assert "LogsDirectory=litellm\n" in unit and f'"LLMFLEET_REQUEST_LOG={REQUEST_LOG_FILE}"' in unit.replace("Environment=", "")
    assert f"gw1/litellm/{REQUEST_LOG_MODULE}.py" in out


def test_off_by_default_nothing_is_rendered(tmp_path: Path) -> None:
    out = rendered(tmp_path, "pip.yml", False)
    assert not [p for p in out if p.endswith(f"{REQUEST_LOG_MODULE}.py")]
    assert "callbacks" not in yaml.safe_load(out["vps/litellm/config.yaml"])["litellm_settings"]
    assert "/var/log/litellm" not in out["vps/litellm/docker-compose.yml"]
