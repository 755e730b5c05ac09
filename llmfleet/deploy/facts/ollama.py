"""Facts about an Ollama server: the models it has (``ollama list``, ``/api/tags``) and has loaded (``/api/ps``)."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


def normalize_model(name: str) -> str:
    """``qwen2.5`` and ``qwen2.5:latest`` are the same model to Ollama (a ``host:port/`` prefix is no tag)."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class OllamaModels(FactBase[list[str]]):
    """Names (``name:tag``) of the models the Ollama server at ``address`` (host:port) has pulled."""

    default = list

    def requires_command(self, address: str) -> str:
        return "ollama"

    def command(self, address: str) -> str:
        return f"OLLAMA_HOST={shlex.quote(address)} ollama list 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        names = []
        for line in output:
            fields = line.split()
            if not fields or fields[0] == "NAME":
                continue
            names.append(normalize_model(fields[0]))
        return sorted(set(names))


#: Reads the server's ``/api/tags`` with the host's python3 (deploy installs it everywhere; no curl needed).
_TAGS = (
    "import json,sys,urllib.request;"
    "d=json.load(urllib.request.urlopen('http://'+sys.argv[1]+'/api/tags',timeout=20));"
    "[print(m['name'],m['digest']) for m in d.get('models') or []]"
)


class OllamaDigests(FactBase[dict[str, str]]):
    """``{name:tag: digest}`` of the models the Ollama server at ``address`` has (its ``/api/tags``)."""

    default = dict

    def requires_command(self, address: str) -> str:
        return "python3"

    def command(self, address: str) -> str:
        return f"python3 -c {shlex.quote(_TAGS)} {shlex.quote(address)} 2>/dev/null || true"

    def process(self, output: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in output:
            fields = line.split()
            if len(fields) == 2:
                found[normalize_model(fields[0])] = fields[1]
        return found


_PS = (
    "import json,sys,urllib.request;"
    "d=json.load(urllib.request.urlopen('http://'+sys.argv[1]+'/api/ps',timeout=20));"
    "[print(m.get('name') or m.get('model')) for m in d.get('models') or []]"
)


class OllamaLoaded(FactBase[list[str]]):
    """Names (``name:tag``) of the models the Ollama server at ``address`` has loaded now (its ``/api/ps``)."""

    default = list

    def requires_command(self, address: str) -> str:
        return "python3"

    def command(self, address: str) -> str:
        return f"python3 -c {shlex.quote(_PS)} {shlex.quote(address)} 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return sorted({normalize_model(line) for line in output if line.strip()})
