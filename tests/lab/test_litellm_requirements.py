"""The LiteLLM venv the tests use (tools/install-litellm.sh) pins what a systemd-venv gateway gets."""

from __future__ import annotations

import re
from pathlib import Path

from llmfleet.versions import CALLBACK_REQUIREMENTS, PRISMA_REQUIREMENT, litellm_venv_requirements

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "install-litellm.sh"


def _default(var: str) -> str:
    match = re.search(rf'"\$\{{{var}:-([^}}]+)\}}"', SCRIPT.read_text())
    assert match, f"{var} has no default in {SCRIPT.name}"
    return match.group(1)


def test_install_script_pins_the_same_versions_as_the_deploy() -> None:
    assert f"prisma=={_default('PRISMA_VERSION')}" == PRISMA_REQUIREMENT
    assert f"prometheus_client=={_default('PROMETHEUS_CLIENT_VERSION')}" == CALLBACK_REQUIREMENTS["prometheus"]


def test_callback_packages_join_the_venv_only_when_used() -> None:
    assert litellm_venv_requirements("1.106.2") == ["litellm[proxy]==1.106.2", PRISMA_REQUIREMENT]
    assert litellm_venv_requirements("1.106.2", ["prometheus", "langfuse"]) == [
        "litellm[proxy]==1.106.2",
        PRISMA_REQUIREMENT,
        CALLBACK_REQUIREMENTS["prometheus"],
    ]
