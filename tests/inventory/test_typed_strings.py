"""Typed strings: every value that reaches a rendered file is refused at load when it could change its structure."""

from __future__ import annotations

from typing import Any

import pytest


def _set(data: dict, path: tuple, value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node[part] if not isinstance(part, str) or part in node else node.setdefault(part, {})
    node[path[-1]] = value


OLLAMA = ("backends", 0, "ollama")
LLAMA = ("backends", 1, "llamacpp")

HOSTILE = [
    # control characters, anywhere
    (("models", 0, "upstream"), "qwen\ndeepseek-r1", "backends", "control character (U+000A)"),
    (("models", 0, "upstream"), "qwen\r#x", "", "control character (U+000D)"),
    (("models", 2, "upstream"), "claude\u2028x", "", "control character (U+2028)"),
    # U+0085 is a YAML line break: a plain scalar folds it to a space (refused as a model id); "\N" keeps it
    (("models", 0, "upstream"), "claude\u0085x", "", "is not an Ollama model name"),
    (("models", 2, "upstream"), "claude\x7fx", "", "control character (U+007F)"),
    (("models", 2, "upstream"), "claude\x9bx", "", "control character (U+009B)"),
    (("models", 2, "upstream"), "claude\u202ex", "", "control character (U+202E)"),
    (("hosts", 1, "gpu", "model"), "RTX\x1b[2J", "", "control character (U+001B)"),
    # model ids
    (("models", 0, "upstream"), "#qwen", "", "is not a model id"),
    (("models", 0, "upstream"), "qwen 2.5", "", "is not an Ollama model name"),
    (("models", 0, "upstream"), "../../x", "", "is not an Ollama model name"),
    (("models", 1, "upstream"), "ds r1", "", "is not a llama-server alias"),
    (("models", 2, "upstream"), " claude", "", "is not a model id"),
    (("models", 0, "upstream"), "qwen:14b:extra", "", "is not an Ollama model name"),
    (("models", 0, "upstream"), "a/b/c/d", "", "is not an Ollama model name"),
    # paths
    ((*OLLAMA, "models_dir"), "/", "", "system directory"),
    ((*OLLAMA, "models_dir"), "/etc", "", "system directory"),
    ((*OLLAMA, "models_dir"), "/srv/ollama/../../etc", "", "'..' segments"),
    ((*OLLAMA, "models_dir"), "/srv/my models", "", "no spaces"),
    ((*OLLAMA, "models_dir"), "/srv/%h", "", "'%'"),
    ((*OLLAMA, "models_dir"), "/srv//x", "", "not normalised"),
    ((*OLLAMA, "models_dir"), "srv/x", "", "not an absolute path"),
    (("gateway", "install_dir"), "/opt/lit llm", "", "no spaces"),
    (("gateway", "install_dir"), "/opt/x$(id)", "", "'$'"),
    # binds and addresses
    (("gateway", "bind"), "0.0.0.0'); import os; os.system('id'); ('", "", "is not an IP address"),
    (("gateway", "bind"), "::1%lo", "", "has a scope id"),
    (("gateway", "bind"), "localhost", "", "is not an IP address"),
    (("hosts", 0, "address"), "-oProxyCommand=touch /tmp/x", "", "neither an IP address nor a DNS name"),
    (("hosts", 0, "ssh", "user"), "root -oX", "", "is not a user name"),
    # URLs
    ((*LLAMA, "model", "url"), "https://example.org/models/..", "", "'..' path segment"),
    ((*LLAMA, "model", "url"), "https://example.org:99999/x.gguf", "", "invalid port"),
    ((*LLAMA, "model", "url"), "https://user:hunter2@example.org/x.gguf", "", "user or password"),
    ((*LLAMA, "model", "url"), "ftp://example.org/x.gguf", "", "must start with http:// or https://"),
    ((*LLAMA, "model", "url"), "https://2001:db8::1/x.gguf", "", "in brackets"),
    (("models", 2, "api_base"), "ftp://api.example.com", "", "ftp://api.example.com"),
    (("models", 2, "api_base"), "https://api.example.com/v1/../../admin", "", "'..' path segment"),
    (("mesh", "server_url"), "https://hs.example.net/path", "", "bare origin"),
    (("mesh", "server_url"), "http://hs.example.net", "", "must start with https://"),
    # versions and numbers
    ((*OLLAMA, "version"), "0.5.7\n", "", "control character"),
    (("hosts", 1, "gpu", "vram_gib"), float("inf"), "", "finite number"),
    (("hosts", 1, "gpu", "vram_gib"), float("nan"), "", "finite number"),
    # images
    (("gateway", "redis"), {"bundled": True, "image": "redis:${REDIS_PASSWORD}", "password": "env:REDIS_PASSWORD"}, "", "not an image"),
    (("gateway", "redis"), {"bundled": True, "image": "redis", "password": "env:REDIS_PASSWORD"}, "", "names no tag"),
]


@pytest.mark.parametrize(("path", "value", "_", "expected"), HOSTILE, ids=[f"{'.'.join(map(str, p))}={v!r}"[:60] for p, v, _, _ in HOSTILE])
def test_hostile_value_is_refused_at_its_field(problems_of, base, path, value, _, expected) -> None:
    if path[:2] == ("gateway", "redis"):
        base["gateway"]["runtime"] = "compose"
    _set(base, path, value)
    found = problems_of(base)
    where = ".".join(str(p) for p in path if isinstance(p, str))
    assert any(expected in p and "fleet.yml:" in p for p in found), found
    assert all("\n" not in p and "\r" not in p and "\x1b" not in p for p in found)
    assert where.split(".")[-1] in " ".join(found)


def test_one_bad_value_gives_one_error(problems_of, base) -> None:
    base["backends"][0]["ollama"]["models_dir"] = "/srv/ollama\rExecStartPre=+/bin/sh"
    found = problems_of(base)
    assert len(found) == 1, found


def test_plain_values_still_load(load_data, base) -> None:
    base["backends"][0]["ollama"]["models_dir"] = "/srv/ollama/models"
    base["backends"][1]["llamacpp"]["model"]["url"] = "https://[2001:db8::1]:8443/m/x.gguf"
    base["gateway"]["bind"] = "::"
    base["hosts"][0]["address"] = "gw1.example.net"
    load_data(base)


def test_nel_written_as_a_yaml_escape_is_refused(tmp_path) -> None:
    from llmfleet.inventory import InventoryError, load

    from .conftest import BASE, write_yaml

    path = write_yaml(tmp_path / "fleet.yml", BASE)
    text = path.read_text().replace("claude-3-5-haiku-20241022", '"claude\\Nx"')
    path.write_text(text)
    with pytest.raises(InventoryError) as exc:
        load(path)
    assert [p.message for p in exc.value.problems if p.path == ("models", 2, "upstream")] == [
        "contains a control character (U+0085); line breaks, tabs and terminal escapes are not allowed in a value"
    ]
