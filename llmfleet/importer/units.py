"""Reading systemd units (or drop-ins) of model servers: how they bind.

Teams often run Ollama natively (``ollama.service``) next to a containerised gateway; the bind
address then lives in ``Environment="OLLAMA_HOST=..."`` or in ``ExecStart=... --host ...``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from llmfleet.importer.source import ImportInputError


@dataclass(frozen=True)
class UnitSetting:
    """A value set by a unit line."""

    name: str
    value: str
    line: int


@dataclass
class UnitFile:
    """The parts of a systemd unit the importer reads."""

    file: str
    environment: dict[str, UnitSetting] = field(default_factory=dict)
    exec_start: list[tuple[list[str], int]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``ollama``, ``llamacpp`` or ``other``, from what it runs or sets."""
        commands = " ".join(" ".join(words) for words, _ in self.exec_start)
        if "ollama" in commands or any(name.startswith("OLLAMA_") for name in self.environment):
            return "ollama"
        if "llama-server" in commands:
            return "llamacpp"
        return "other"


def load_unit(path: Path) -> UnitFile:
    """Parse ``Environment=`` and ``ExecStart=`` lines of a unit file."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImportInputError(file, None, "no such file (expected a systemd unit)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportInputError(file, None, f"cannot be read as a systemd unit: {exc}") from None
    unit = UnitFile(file=file)
    sections = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections += 1
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ImportInputError(file, number, "not a systemd unit line (expected Key=value or [Section])")
        key = key.strip()
        if key == "Environment":
            for word in _split(value):
                name, has_value, setting = word.partition("=")
                if has_value and name:
                    unit.environment[name] = UnitSetting(name, setting, number)
        elif key == "ExecStart" and value.strip():
            unit.exec_start.append((_split(value.lstrip("-@+!:")), number))
    if sections == 0:
        raise ImportInputError(file, None, "no [Section] header: not a systemd unit")
    return unit


def _split(value: str) -> list[str]:
    # systemd has no trailing comments: "# note" after a value becomes extra (ignored) words.
    try:
        return shlex.split(value, comments=False)
    except ValueError:
        return value.split()
