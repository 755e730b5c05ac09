"""Lab helpers: locate and run the real programs (LiteLLM proxy, Docker Compose, llama-server)
that tests and demos use, and generate a tiny GGUF model for them."""

from fleetlab.programs import (
    ProgramMissing,
    cache_dir,
    compose_bin,
    litellm_bin,
    llama_server_bin,
)

__all__ = ["ProgramMissing", "cache_dir", "compose_bin", "litellm_bin", "llama_server_bin"]
