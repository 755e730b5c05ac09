"""Fixtures for the checks tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture
def write_fleet(tmp_path: Path):
    """Write a fleet dict as YAML and return its path."""

    def write(data: dict[str, Any], name: str = "faults.yml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write
