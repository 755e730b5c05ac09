"""Write (or check) ``checks/report.schema.json``, the JSON Schema of ``--json`` reports.

python -m llmfleet.checks.schema            # rewrite the committed file
python -m llmfleet.checks.schema --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from llmfleet.checks.results import report_json_schema_text

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def main(argv: list[str] | None = None) -> int:
    """Write the schema file, or with ``--check`` compare it."""
    args = sys.argv[1:] if argv is None else argv
    text = report_json_schema_text()
    if "--check" in args:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run python -m llmfleet.checks.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
