"""The seeds' lab overlays (inventories/<seed>.lab.yml): valid, every host on a lab address, every
local llama.cpp model on the tiny GGUF, downloads from the lab mirror, cloud models named as skipped."""

from __future__ import annotations

import ipaddress

import pytest

from fleetlab import cloudstandin, seedlab
from fleetlab.labredis import lab_redis
from fleetlab.local import GGUF_RECIPES
from llmfleet.inventory import load_inventory
from llmfleet.inventory.model import Inventory

WITH_OVERLAY = [s for s in seedlab.SEEDS if seedlab.seed_files(s)[1].is_file()]


def lab_inventory(seed: str) -> Inventory:
    inventory, overlay, _ = seedlab.seed_files(seed)
    return load_inventory(inventory, overlay)


def test_the_compose_seeds_and_netbox_have_overlays() -> None:
    assert {"nova-litellm", "nova-hybrid", "netbox-chatbox"} <= set(WITH_OVERLAY)
    assert "pip" in WITH_OVERLAY


@pytest.mark.parametrize("seed", WITH_OVERLAY)
def test_overlay_maps_the_seed_onto_the_lab(seed: str) -> None:
    inv = lab_inventory(seed)
    for h in inv.hosts:
        assert ipaddress.IPv4Address(h.address) in ipaddress.IPv4Network("10.231.0.0/16"), h
        assert h.gpu is None, "the lab has no GPU: tools/gpu-check.sh covers NVIDIA on a lent one"
    assert inv.artifacts.mirror == "http://10.231.0.1:8099/"
    for b in inv.backends:
        if b.llamacpp is not None:
            assert b.llamacpp.model.filename in GGUF_RECIPES
            assert b.llamacpp.n_gpu_layers == 0
    if inv.gateway.runtime == "compose":
        assert inv.gateway.engine.source == "debian-podman" and inv.gateway.engine.compose_binary is not None
        assert inv.gateway.image == "localhost/llmfleet-lab/litellm"
        assert inv.gateway.database is None, "LiteLLM with a database cannot start here (prisma)"
    # The seed's architecture stays: same hosts and roles (a lab backend may add `gpu`), models (the lab may add its own
    # after them) and routing.
    seed_inv = load_inventory(seedlab.seed_files(seed)[0])
    assert [h.name for h in inv.hosts] == [h.name for h in seed_inv.hosts]
    assert all(set(s.roles) <= set(h.roles) <= set(s.roles) | {"gpu"} for h, s in zip(inv.hosts, seed_inv.hosts, strict=True))
    assert [m.name for m in inv.models][: len(seed_inv.models)] == [m.name for m in seed_inv.models]
    assert inv.routing == seed_inv.routing


@pytest.mark.parametrize("seed", WITH_OVERLAY)
def test_cloud_models_are_reported_skipped_with_the_reason(seed: str) -> None:
    inv = lab_inventory(seed)
    skipped = seedlab.cloud_models(inv)
    standin = {s.model for s in cloudstandin.standins(inv)}
    assert set(skipped) == {m.name for m in inv.models if m.provider} - standin
    assert all("no internet" in why for why in skipped.values())


def test_mobius_one_cloud_models_answer_from_the_named_stand_in_and_share_a_lab_redis() -> None:
    inv = lab_inventory("mobius-one")
    assert {(s.model, s.provider) for s in cloudstandin.standins(inv)} == {(m.name, m.provider) for m in inv.models}
    assert len({s.port for s in cloudstandin.standins(inv)}) == len(inv.models), "one stand-in server per model"
    assert "STAND-IN for the internet" in seedlab.seed_files("mobius-one")[1].read_text()
    redis = lab_redis(inv)
    assert redis is not None and redis.host == "gw-a" and redis.ip == str(inv.host_by_name["gw-a"].mesh.ip)
    assert inv.gateway.runtime == "systemd-venv" and len(inv.hosts_with("gateway")) == 2


def test_pip_keeps_per_request_records_without_its_database() -> None:
    """The seed's spend logs need Postgres (cannot start here): the lab keeps per-request records by request_log."""
    assert load_inventory(seedlab.seed_files("pip")[0]).gateway.database is not None
    inv = lab_inventory("pip")
    assert inv.gateway.database is None and inv.gateway.logging.request_log
    assert inv.mesh is not None and inv.mesh.tls is not None  # Headscale serves TLS itself with the lab CA's certificate


def test_merge_overlays_merges_named_lists_by_name() -> None:
    base = {"backends": [{"name": "a", "llamacpp": {"ctx_size": 1, "jinja": True}}], "gateway": {"port": 1}}
    over = {"backends": [{"name": "a", "llamacpp": {"ctx_size": 2}}, {"name": "b"}], "gateway": {"database": None}}
    assert seedlab.merge_overlays(base, over) == {
        "backends": [{"name": "a", "llamacpp": {"ctx_size": 2, "jinja": True}}, {"name": "b"}],
        "gateway": {"port": 1, "database": None},
    }


def test_nova_litellm_serves_one_chat_and_one_embedding_model_on_lab_llama_servers() -> None:
    from llmfleet.render import render_fleet

    inv = lab_inventory("nova-litellm")
    local = {m.name: (m.mode, inv.backend_by_name[m.backend]) for m in inv.models if m.backend}
    assert {name: mode for name, (mode, _) in local.items()} == {"smollm3-3b": "chat", "qwen3-embedding-4b": "embedding"}
    embed = local["qwen3-embedding-4b"][1].llamacpp
    assert embed.embedding and embed.extra_args == ["--pooling", "last"]  # the tiny GGUF has no pooling metadata
    assert not local["smollm3-3b"][1].llamacpp.embedding
    assert len(seedlab.cloud_models(inv)) == 4
    files = {f.relpath: f.content for f in render_fleet(inv)}
    unit = files["nova/systemd/llama-server-llamacpp-embed.service"]
    assert "--embedding" in unit and "--pooling last" in unit
    assert "--embedding" not in files["nova/systemd/llama-server-llamacpp-chat.service"]
    compose = files["nova/litellm/docker-compose.yml"]
    assert "network_mode: host" in compose and '"--host", "10.231.21.2"' in compose, "no published port: the gateway listens itself"


def test_netbox_lab_switches_between_two_models_of_the_seeds_one_ollama() -> None:
    inv = lab_inventory("netbox-chatbox")
    seed_inv = load_inventory(seedlab.seed_files("netbox-chatbox")[0])
    (added,) = [m for m in inv.models if m.name not in seed_inv.model_by_name]
    first = inv.model_by_name["qwen2.5-14b"]
    assert added.backend == first.backend and "lab" in added.tags
    assert added.ollama.gguf.filename != first.ollama.gguf.filename, "another GGUF: another Ollama runner, a real reload"
    assert {added.ollama.gguf.filename, first.ollama.gguf.filename} <= set(GGUF_RECIPES)
    assert inv.backend_by_name[first.backend].ollama == seed_inv.backend_by_name[first.backend].ollama.model_copy(
        update={"version": "0.17.4"}
    )
    assert inv.backend_by_name[first.backend].ollama.max_loaded_models == 1


def test_check_runs_one_model_at_a_time_only_where_an_ollama_keeps_fewer_loaded() -> None:
    assert seedlab.check_concurrency(lab_inventory("netbox-chatbox")) == 1  # 2 local models, max_loaded_models 1
    assert seedlab.check_concurrency(lab_inventory("nova-litellm")) is None  # llama.cpp: one server per model
