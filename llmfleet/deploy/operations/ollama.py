"""Ollama models pulled only when missing."""

from __future__ import annotations

from collections.abc import Sequence

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from llmfleet.deploy.facts.ollama import OllamaModels, normalize_model


def parse_models_file(content: str) -> list[str]:
    """Model names from a rendered ``ollama/models.txt`` (one per line, ``#`` comments)."""
    return [line.strip() for line in content.splitlines() if line.strip() and not line.strip().startswith("#")]


@operation()
def models_pulled(models: Sequence[str], address: str, timeout: int = 6 * 3600):
    """Pull each of ``models`` the Ollama server at ``address`` (host:port) does not have yet.

    One ``ollama pull`` per missing model, so pyinfra reports progress model by model (the pull's
    own progress shows with ``-vvv``). No-op when every model is present.
    """
    present = set(host.get_fact(OllamaModels, address=address))
    missing = [m for m in models if normalize_model(m) not in present]
    if not missing:
        host.noop(f"models present: {', '.join(models) or 'none wanted'}")
        return
    for model in missing:
        yield StringCommand(
            "timeout", str(int(timeout)), "env", QuoteString(f"OLLAMA_HOST={address}"), "ollama", "pull", QuoteString(model)
        )
