"""llmfleet: deployment-as-code for self-hosted LLM gateways."""

__version__ = "0.1.0"
