"""``ollama.pull_commands``: what deploy runs to pull a model from an operator-run registry.

The operation's cases (missing, present, another digest) are fixtures in
``tests/deploy/operations/ollama.model_pulled_from/``; the real pull in test_ollama_registry_real.py.
"""

from __future__ import annotations

from llmfleet.deploy.operations.ollama import pull_commands


def test_pull_commands_rename_to_upstream_unless_it_is_the_reference() -> None:
    addr = "127.0.0.1:1"
    ollama = ["env", f"OLLAMA_HOST={addr}", "ollama"]
    ref = "r:5000/library/m:v1"
    assert pull_commands(ref, "m:v1", addr, insecure=True, timeout=60) == [
        ["timeout", "60", *ollama, "pull", "--insecure", ref],
        [*ollama, "cp", ref, "m:v1"],
        [*ollama, "rm", ref],
    ]
    # A registry port is no tag: r:5000/library/m is r:5000/library/m:latest, already the name.
    assert pull_commands("r:5000/library/m:latest", "r:5000/library/m", addr, timeout=60) == [
        ["timeout", "60", *ollama, "pull", "r:5000/library/m:latest"]
    ]
