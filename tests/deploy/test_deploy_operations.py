"""Every custom operation against fact fixtures → the exact commands it yields (JSON cases).

One directory per operation under ``operations/`` (``<module>.<operation>``), one JSON file per
case, in the style of pyinfra's own operation tests:

* ``facts``: fact fixtures by fact name (``files.Sha256File``, ``llmfleet.deploy.facts.tailscale.TailscaleStatus``),
  with ``key=value`` sub-keys for facts that take arguments; ``"@content_sha256"`` stands for the
  SHA-256 of the case's secret content;
* ``kwargs``: the operation's arguments (``artifact`` → :class:`Artifact`, ``content`` and
  ``{"secret": ...}`` → :class:`SecretContent`, resolved from the case's ``environ``);
* ``commands``: what it must yield — raw command strings, ``["upload", dest]``,
  ``["function", name, args]``; an empty list is the no-change case, which must come with the
  operation's ``noop`` sentence.
"""

from __future__ import annotations

import hashlib
import json
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from deploy_harness import command_strings, run_op, uploaded_text, visible_text

from llmfleet.deploy.operations.dotenv import SecretContent
from llmfleet.inventory.model import Artifact, ImageArchive
from llmfleet.inventory.secrets import SecretRef

CASES_DIR = Path(__file__).parent / "operations"
CASES = sorted(CASES_DIR.glob("*/*.json"))


def fact_class(name: str) -> type:
    """``files.Sha256File`` → pyinfra's fact; ``llmfleet.deploy.facts.x.Y`` → ours."""
    module, _, cls = name.rpartition(".")
    path = module if module.startswith("llmfleet.deploy.") else f"pyinfra.facts.{module}"
    return getattr(import_module(path), cls)


def _content(spec: Any, environ: dict[str, str]) -> SecretContent:
    refs = spec["refs"]
    parsed = SecretRef.parse(refs) if isinstance(refs, str) else {k: SecretRef.parse(v) for k, v in refs.items()}
    return SecretContent(parsed, header=spec.get("header", ""), environ=environ)


def _convert(key: str, value: Any, environ: dict[str, str]) -> Any:
    if key == "artifact":
        return Artifact(**value)
    if key == "archive":
        return ImageArchive(**value)
    if key == "content":
        return _content(value, environ)
    if key == "files":
        return {p: _content(v["secret"], environ) if isinstance(v, dict) else v for p, v in value.items()}
    return value


def _secret_sha(kwargs: dict[str, Any]) -> str | None:
    for value in kwargs.values():
        if isinstance(value, SecretContent):
            return value.sha256()
        if isinstance(value, dict):
            for v in value.values():
                if isinstance(v, SecretContent):
                    return v.sha256()
    return None


def _facts(raw: dict[str, Any], secret_sha: str | None) -> dict[type, Any]:
    def sub(v: Any) -> Any:
        if v == "@content_sha256":
            return secret_sha
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        return v

    return {fact_class(name): sub(value) for name, value in raw.items()}


def load_case(path: Path) -> tuple[list[Any], Any]:
    """Run the case at ``path``; return (commands, fake host)."""
    data = json.loads(path.read_text())
    module, op_name = path.parent.name.split(".")
    op = getattr(import_module(f"llmfleet.deploy.operations.{module}"), op_name)
    environ = data.get("environ", {})
    kwargs = {k: _convert(k, v, environ) for k, v in data["kwargs"].items()}
    return run_op(op, _facts(data["facts"], _secret_sha(kwargs)), **kwargs)


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_operation_case(path: Path) -> None:
    data = json.loads(path.read_text())
    commands, host = load_case(path)
    assert command_strings(commands) == data["commands"], data["description"]
    if not data["commands"]:
        assert host.noops, "a no-change case must say why (host.noop)"
        assert host.noops[-1] == data["noop"]
    for value in data.get("environ", {}).values():
        assert value not in visible_text(commands), "a secret value is in a command, a repr or an argument"
        assert value not in json.dumps(data["commands"])


def test_every_operation_has_a_no_change_case() -> None:
    ops = {p.parent.name for p in CASES}
    with_noop = {p.parent.name for p in CASES if not json.loads(p.read_text())["commands"]}
    # apply_or_rollback always restarts: it is only ever run with _if=any_changed(...).
    assert ops - with_noop == {"gateway.apply_or_rollback"}


def test_every_custom_operation_has_cases() -> None:
    import llmfleet.deploy.operations as package

    found = set()
    for module_path in Path(package.__file__).parent.glob("*.py"):
        module = import_module(f"llmfleet.deploy.operations.{module_path.stem}")
        for name, value in vars(module).items():
            if callable(value) and hasattr(value, "_inner") and value.__module__ == module.__name__:
                found.add(f"{module_path.stem}.{name}")
    assert found == {p.parent.name for p in CASES}


def test_secret_file_uploads_the_values_and_nothing_else_shows_them() -> None:
    path = CASES_DIR / "dotenv.secret_file" / "missing.json"
    data = json.loads(path.read_text())
    commands, _ = load_case(path)
    (text,) = uploaded_text(commands)
    for name, value in data["environ"].items():
        assert f"{name}='{value}'" in text
        assert value not in visible_text(commands)
    assert commands[2].get_raw_value().endswith("chmod 600 /opt/llmfleet/litellm/.env"), "the file is 0600 before the upload"


def test_secret_content_repr_and_hash_name_no_value() -> None:
    content = SecretContent({"K": SecretRef.parse("env:K")}, environ={"K": "sk-very-secret-value-0123456789"})
    assert "sk-very" not in repr(content)
    assert content.sha256() == hashlib.sha256(content.text().encode()).hexdigest()
    assert content.text().endswith("K='sk-very-secret-value-0123456789'\n")


@pytest.mark.parametrize("value", ["it's", "two\nlines", "nul\x00"])
def test_secret_content_refuses_unsafe_values(value: str) -> None:
    from llmfleet.inventory.secrets import SecretError

    content = SecretContent({"K": SecretRef.parse("env:K")}, environ={"K": value})
    with pytest.raises(SecretError, match="K contains"):
        content.text()


def test_missing_secret_names_the_variable_only() -> None:
    from llmfleet.inventory.secrets import SecretError

    content = SecretContent({"LITELLM_MASTER_KEY": SecretRef.parse("env:LITELLM_MASTER_KEY")}, environ={})
    with pytest.raises(SecretError, match="LITELLM_MASTER_KEY is not set"):
        content.sha256()


def test_the_gateway_env_refuses_a_weak_master_key() -> None:
    from llmfleet.deploy.gateway import env_content
    from llmfleet.inventory.loader import load_inventory
    from llmfleet.inventory.secrets import SecretError

    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventories" / "lab.yml")
    content = env_content(inv)
    content._environ = {"LITELLM_MASTER_KEY": "sk-1234"}
    with pytest.raises(SecretError, match="public example key"):
        content.text()
    content._environ = {"LITELLM_MASTER_KEY": "sk-" + "a" * 40}
    assert content.text().endswith("LITELLM_MASTER_KEY='sk-" + "a" * 40 + "'\n")
