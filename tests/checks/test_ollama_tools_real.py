"""Tool calls through the real LiteLLM proxy to the real Ollama, on the route llmfleet renders (marked ``real``).

Everything on loopback and rendered from one inventory: Ollama 0.17 (built by ``make go-programs``)
runs as ``ollama serve``; each model is made with ``ollama create`` from its *rendered* Modelfile (only
``FROM`` points at the local GGUF); the LiteLLM proxy runs with the *rendered* ``config.yaml``. The GGUF
is the scripted test fixture (:func:`fleetlab.tiny_gguf.write_scripted_tools_gguf`): it answers the tool
probe's questions with fixed tool calls, so these tests prove the transport — Ollama's template-based
parser, LiteLLM's route, the probe — not a model. A model whose TEMPLATE lacks ``.Tools`` shows what
happens otherwise: Ollama refuses tools, and ``llmfleet check`` says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from checks_fixtures import TEST_KEY

from fleetlab.local import sha256_file
from fleetlab.ollama_local import LocalOllama, digest_on_host, run_ollama, tool_verdict
from fleetlab.processes import free_port, run_litellm
from fleetlab.programs import ProgramMissing, go_release, litellm_bin
from fleetlab.tiny_gguf import CHATML_GO_TEMPLATE, QWEN25_TOOLS_GO_TEMPLATE, SCRIPTED_CALLS, write_scripted_tools_gguf
from llmfleet.checks.context import Options
from llmfleet.checks.http import Timeouts
from llmfleet.checks.runner import run_checks
from llmfleet.checks.toolcall import TOOLS_BY_NAME
from llmfleet.inventory import load_inventory
from llmfleet.inventory.model import Inventory
from llmfleet.render import render_fleet
from llmfleet.versions import DEFAULT_OLLAMA_VERSION

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[2]
#: A template and system prompt that try to break out of the Modelfile's """ block (quotes at the edges, a line
#: that looks like a command, a comment): Ollama must read them back exactly.
HOSTILE_TEMPLATE = 'v"\'$HOME ${X} %h %% \\ #: {a: [b]} `id`\n"\n""\nPARAMETER num_ctx 64\nFROM /etc/shadow\n# c\n{{ .Prompt }}"'
HOSTILE_SYSTEM = '"starts and ends with a quote\nSYSTEM x\n"'


@dataclass
class Fleet:
    inventory: Inventory
    path: Path
    ollama: LocalOllama
    gateway: str
    gguf: Path


def _inventory(gguf: Path, ollama_port: int, gateway_port: int) -> dict:
    source = {"gguf": {"url": "http://127.0.0.1:9/tiny-scripted-tools.gguf", "sha256": sha256_file(gguf)}}
    params = {"temperature": 0, "stop": ["<|im_end|>"]}
    return {
        "fleet": "ollamatools",
        "hosts": [{"name": "lab", "address": "127.0.0.1", "roles": ["gateway", "gpu"]}],
        "backends": [
            {"name": "ol", "kind": "ollama", "host": "lab", "port": ollama_port, "bind": "loopback", "ollama": {"version": "0.17.4"}}
        ],
        "models": [
            {
                "name": "tools-model",
                "backend": "ol",
                "upstream": "tiny-tools",
                "context_window": 2048,
                "tools": "required",
                "ollama": {**source, "template": QWEN25_TOOLS_GO_TEMPLATE, "parameters": params},
            },
            {
                "name": "plain-model",
                "backend": "ol",
                "upstream": "tiny-plain",
                "context_window": 2048,
                "tools": "optional",
                "ollama": {**source, "template": CHATML_GO_TEMPLATE, "parameters": params},
            },
            {
                "name": "hostile-model",
                "backend": "ol",
                "upstream": "tiny-hostile",
                "tools": "none",
                "ollama": {**source, "template": HOSTILE_TEMPLATE, "system": HOSTILE_SYSTEM, "parameters": params},
            },
        ],
        "gateway": {
            "litellm_version": "1.106.2",
            "runtime": "systemd-venv",
            "port": gateway_port,
            "bind": "127.0.0.1",
            "master_key": "env:LLMFLEET_TEST_MASTER_KEY",
        },
    }


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    try:
        litellm_bin()
        go_release("ollama", DEFAULT_OLLAMA_VERSION)
    except ProgramMissing as exc:
        pytest.skip(str(exc))  # names the make target (litellm-proxy / go-programs)
    work = tmp_path_factory.mktemp("ollama-tools")
    gguf = write_scripted_tools_gguf(work / "tiny-scripted-tools.gguf")
    ollama_port, gateway_port = free_port(), free_port()
    path = work / "fleet.yml"
    path.write_text(yaml.safe_dump(_inventory(gguf, ollama_port, gateway_port), sort_keys=False))
    inv = load_inventory(path)
    files = {f.relpath: f.content for f in render_fleet(inv)}
    with run_ollama(DEFAULT_OLLAMA_VERSION, work / "ollama", port=ollama_port) as ollama:
        for m in inv.models:
            rendered = files[f"lab/ollama/{m.upstream}.Modelfile"]
            local = work / f"{m.upstream}.Modelfile"
            local.write_text(rendered.replace(f"FROM /var/lib/llmfleet/models/{gguf.name}", f"FROM {gguf}"))
            ollama.create(m.upstream, local)
        config = work / "config.yaml"
        config.write_text(files["lab/litellm/config.yaml"])
        with run_litellm(config, gateway_port, env={"LLMFLEET_TEST_MASTER_KEY": TEST_KEY}, log_path=work / "litellm.log") as url:
            yield Fleet(inv, path, ollama, url, gguf)


def _model(fleet: Fleet, name: str):
    return next(m for m in fleet.inventory.models if m.name == name)


def test_the_rendered_route_is_the_measured_one(fleet: Fleet) -> None:
    """The route benchmarks/RESULTS-ollama-routes.md chose: tool calls survive, least overhead; embeddings stay on ollama/."""
    config = yaml.safe_load((fleet.path.parent / "config.yaml").read_text())
    routes = {d["model_name"]: d["litellm_params"] for d in config["model_list"]}
    assert routes["tools-model"]["model"] == "openai/tiny-tools"
    assert routes["tools-model"]["api_base"] == f"{fleet.ollama.url}/v1"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("scenario", ["lookup", "choose"])
def test_a_tool_call_survives_the_rendered_route(fleet: Fleet, scenario: str, stream: bool) -> None:
    with httpx.Client(timeout=120) as client:
        verdict, answer = tool_verdict(
            client,
            f"{fleet.gateway}/v1/chat/completions",
            "tools-model",
            scenario,
            stream=stream,
            headers={"Authorization": f"Bearer {TEST_KEY}"},
        )
    assert verdict.outcome == "ok", verdict.detail
    (call,) = answer.tool_calls
    args = json.loads(call.arguments)
    jsonschema.validate(args, TOOLS_BY_NAME[call.name]["function"]["parameters"])
    assert args == SCRIPTED_CALLS[call.name] and answer.finish_reason == "tool_calls"


def test_llmfleet_check_passes_the_tool_probe_and_reports_a_template_without_tools(fleet: Fleet) -> None:
    opts = Options(samples=2, warmup=0, timeouts=Timeouts(stall=60, total=120, cold_total=180))
    report = asyncio.run(run_checks(fleet.inventory, str(fleet.path), opts, TEST_KEY))
    tools = {r.subject: r for r in report.results if r.check == "tools"}
    good = tools["tools-model"]
    assert good.status == "pass", good.message
    assert sorted((p.scenario, p.stream, p.outcome) for p in good.tool_probes or []) == sorted(
        (s, st, "ok") for s in ("lookup", "choose", "no_tool") for st in (False, True)
    )
    plain = tools["plain-model"]
    assert plain.status == "warn", plain.message  # tools: optional → reported, not failed
    refused = [p for p in plain.tool_probes or [] if p.scenario != "no_tool"]
    assert refused and all(p.outcome == "error" and "does not support tools" in p.detail for p in refused), plain.message
    assert tools["hostile-model"].status == "skip"


def test_the_rendered_modelfile_reads_back_unchanged_in_ollama(fleet: Fleet) -> None:
    """Ollama's own parser: a hostile TEMPLATE/SYSTEM stays one value each, and the lines inside them stay text."""
    with httpx.Client(timeout=60) as client:
        shown = client.post(f"{fleet.ollama.url}/api/show", json={"model": "tiny-hostile"}).json()
        tools = client.post(f"{fleet.ollama.url}/api/show", json={"model": "tiny-tools"}).json()
    assert shown["template"] == HOSTILE_TEMPLATE
    assert shown["system"] == HOSTILE_SYSTEM
    assert "num_ctx" not in shown.get("parameters", ""), "a PARAMETER line inside the template stayed text"
    assert tools["template"] == QWEN25_TOOLS_GO_TEMPLATE
    assert "num_ctx" in tools["parameters"] and "2048" in tools["parameters"]
    assert "tools" in tools.get("capabilities", [])


def test_the_lab_pins_the_digest_ollama_gives_its_rendered_modelfile(fleet: Fleet) -> None:
    """inventories/lab.yml's digest pin is what Ollama on the lab host reports for the rendered Modelfile."""
    lab = load_inventory(ROOT / "inventories" / "lab.yml")
    model = next(m for m in lab.models if m.ollama is not None)
    assert model.ollama is not None and model.ollama.gguf.sha256 == sha256_file(fleet.gguf), "the lab serves the scripted GGUF"
    modelfile = next(f.content for f in render_fleet(lab) if f.relpath.endswith(".Modelfile"))
    # the lab's Ollama runs as its own user with HOME /var/lib/ollama and the default model directory
    digest = digest_on_host(fleet.ollama, "lab-pin-check", modelfile, fleet.gguf, "/var/lib/ollama/.ollama/models")
    assert digest == model.ollama.digest
