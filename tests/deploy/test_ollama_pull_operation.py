"""``ollama.model_pulled_from``: pull from an operator-run registry only when missing, then verify the pinned digest."""

from __future__ import annotations

from deploy_harness import command_strings, run_op

from llmfleet.deploy.facts.ollama import OllamaDigests
from llmfleet.deploy.operations.ollama import model_pulled_from, pull_commands

DIGEST = "4c5164f6533ab9ad52ad42a448b544ee78bba2308a040a03b9cc2d9a774685bd"
ADDR = "100.64.0.2:11434"
REF = "registry.internal:5000/library/tiny:v1"


def _run(have: dict[str, str], digest: str | None = DIGEST) -> tuple[list, list[str]]:
    commands, host = run_op(
        model_pulled_from,
        {OllamaDigests: {f"address={ADDR}": have}},
        model="tiny:v1",
        reference=REF,
        address=ADDR,
        insecure=True,
        digest=digest,
    )
    return command_strings(commands), host.noops


def test_a_present_model_with_the_pinned_digest_is_not_pulled_again() -> None:
    commands, noops = _run({"tiny:v1": DIGEST})
    assert commands == [] and noops == [f"tiny:v1 present (digest {DIGEST[:12]})"]
    assert _run({"tiny:v1": "0" * 64}, digest=None)[0] == [], "unpinned: present is enough"


def test_a_missing_or_different_model_is_pulled_renamed_and_verified() -> None:
    for have in ({}, {"tiny:v1": "0" * 64}):
        commands, noops = _run(have)
        assert noops == []
        assert commands[:3] == [
            f"timeout 21600 env OLLAMA_HOST={ADDR} ollama pull --insecure {REF}",
            f"env OLLAMA_HOST={ADDR} ollama cp {REF} tiny:v1",
            f"env OLLAMA_HOST={ADDR} ollama rm {REF}",
        ]
        assert commands[3].startswith("python3 -c ") and commands[3].endswith(f"{ADDR} tiny:v1 {DIGEST}"), commands[3]


def test_pull_commands_without_insecure_and_under_its_own_name() -> None:
    assert pull_commands("r:5000/library/m:latest", "r:5000/library/m", "127.0.0.1:1", timeout=60) == [
        ["timeout", "60", "env", "OLLAMA_HOST=127.0.0.1:1", "ollama", "pull", "r:5000/library/m:latest"]
    ]
