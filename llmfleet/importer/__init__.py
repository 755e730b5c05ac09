"""Importers: turn an existing setup into findings and a draft inventory.

``llmfleet import litellm CONFIG.yaml [--compose FILE] [--fleet NAME] [--out FILE]`` is
:func:`import_litellm` followed by :func:`format_findings` and writing
:attr:`ImportResult.inventory_yaml`.
"""

from llmfleet.importer.findings import CODES, Finding, format_findings
from llmfleet.importer.litellm import ImportResult, import_litellm
from llmfleet.importer.source import ImportInputError
from llmfleet.inventory.placeholders import find_placeholders

__all__ = [
    "CODES",
    "Finding",
    "ImportInputError",
    "ImportResult",
    "find_placeholders",
    "format_findings",
    "import_litellm",
]
