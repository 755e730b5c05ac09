"""Ollama models: pulled (from ollama.com or an operator-run registry), or created from a pinned GGUF and a rendered
Modelfile, only when missing."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pyinfra import host, logger
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import FileContents

from llmfleet.deploy.facts.ollama import OllamaDigests, OllamaLoaded, OllamaModels, normalize_model
from llmfleet.deploy.operations.util import first_line
from llmfleet.layout import WARMUP_HELPER

#: Checks, on the host, that Ollama at argv[1] lists model argv[2] with digest argv[3] (exit 1 otherwise).
_VERIFY = (
    "import json,sys,urllib.request;"
    "d=json.load(urllib.request.urlopen('http://'+sys.argv[1]+'/api/tags',timeout=20));"
    "got={m['name']:m['digest'] for m in d.get('models') or []}.get(sys.argv[2]);"
    "ok=got is not None and sys.argv[3] in ('',got);"
    "ok or print('error: Ollama lists '+sys.argv[2]+' with digest '+str(got)+', the inventory pins '+sys.argv[3],file=sys.stderr);"
    "sys.exit(0 if ok else 1)"
)
#: :data:`_VERIFY`, then (only when it passed) records the SHA-256 of the Modelfile argv[4] the model was created
#: from and the digest Ollama reports in argv[4] + ".created".
_VERIFY_AND_RECORD = (
    "import hashlib,json,sys,urllib.request;"
    "d=json.load(urllib.request.urlopen('http://'+sys.argv[1]+'/api/tags',timeout=20));"
    "got={m['name']:m['digest'] for m in d.get('models') or []}.get(sys.argv[2]);"
    "ok=got is not None and sys.argv[3] in ('',got);"
    "ok or print('error: Ollama lists '+sys.argv[2]+' with digest '+str(got)+', the inventory pins '+sys.argv[3],file=sys.stderr);"
    "ok and open(sys.argv[4]+'.created','w').write(hashlib.sha256(open(sys.argv[4],'rb').read()).hexdigest()+' '+got+'\\n');"
    "sys.exit(0 if ok else 1)"
)
#: Suffix of the file next to a Modelfile that records what the model was created from (see :func:`model_created`).
CREATED_SUFFIX = ".created"


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


@operation()
def model_created(
    model: str, modelfile: str, address: str, digest: str | None = None, modelfile_sha256: str | None = None, timeout: int = 3600
):
    """``ollama create model -f modelfile`` unless the server at ``address`` has ``model`` made from this Modelfile.

    Present means: Ollama lists ``model`` (with ``digest``, when pinned) and the record next to the
    Modelfile (``<modelfile>.created``: the Modelfile's SHA-256 and the digest Ollama reported, written
    after the last successful create) names ``modelfile_sha256`` and that same digest. So a changed
    Modelfile (template, parameters, GGUF) re-creates the model, and a model changed behind deploy's back
    (another digest) too; a present one is neither re-created nor pulled. After a create, the digest
    Ollama reports in ``/api/tags`` is checked against the pin (the operation fails on a mismatch) and
    only then recorded.
    """
    name = normalize_model(model)
    have = host.get_fact(OllamaDigests, address=address).get(name)
    recorded = first_line(host.get_fact(FileContents, path=modelfile + CREATED_SUFFIX))
    present = have is not None and (digest is None or have == digest)
    if present and modelfile_sha256 is not None and recorded != f"{modelfile_sha256} {have}":
        present = False
    if present:
        assert have is not None
        host.noop(
            f"{name} present (digest {have[:12]}, from this Modelfile)" if modelfile_sha256 else f"{name} present (digest {have[:12]})"
        )
        return
    yield StringCommand(
        "timeout",
        str(int(timeout)),
        "env",
        QuoteString(f"OLLAMA_HOST={address}"),
        "ollama",
        "create",
        QuoteString(model),
        "-f",
        QuoteString(modelfile),
    )
    yield StringCommand(
        "python3",
        "-c",
        QuoteString(_VERIFY_AND_RECORD),
        QuoteString(address),
        QuoteString(name),
        QuoteString(digest or ""),
        QuoteString(modelfile),
    )


def pull_commands(reference: str, name: str, address: str, *, insecure: bool = False, timeout: int = 6 * 3600) -> list[list[str]]:
    """The argv lists that pull ``reference`` into the Ollama server at ``address`` and name it ``name``.

    ``ollama pull [--insecure] registry/repo:tag``, then ``ollama cp`` to ``name`` (the same manifest, so
    the same digest) and ``ollama rm`` of the long name, so clients and LiteLLM use ``name``.
    """
    ollama = ["env", f"OLLAMA_HOST={address}", "ollama"]
    argv = [["timeout", str(int(timeout)), *ollama, "pull", *(["--insecure"] if insecure else []), reference]]
    if normalize_model(reference) != normalize_model(name):
        argv += [[*ollama, "cp", reference, name], [*ollama, "rm", reference]]
    return argv


@operation()
def model_pulled_from(model: str, reference: str, address: str, insecure: bool = False, digest: str | None = None, timeout: int = 6 * 3600):
    """Pull ``model`` from an operator-run registry as ``reference`` unless the server at ``address`` has it (with
    ``digest``, when pinned); afterwards the digest ``/api/tags`` lists is checked against the pin.

    A present model is neither pulled again nor re-created.
    """
    name = normalize_model(model)
    have = host.get_fact(OllamaDigests, address=address).get(name)
    if have is not None and (digest is None or have == digest):
        host.noop(f"{name} present (digest {have[:12]})")
        return
    for argv in pull_commands(reference, name, address, insecure=insecure, timeout=timeout):
        yield StringCommand(*(QuoteString(a) for a in argv))
    yield StringCommand("python3", "-c", QuoteString(_VERIFY), QuoteString(address), QuoteString(name), QuoteString(digest or ""))


def warm_up_plan(models: Sequence[str], max_loaded: int) -> tuple[list[str], list[str]]:
    """(models to warm, models left cold): the first ``max_loaded`` in inventory order stay loaded;
    warming more would only evict those."""
    names = list(dict.fromkeys(normalize_model(m) for m in models))
    return names[:max_loaded], names[max_loaded:]


@operation()
def models_warm(models: Sequence[str], address: str, keep_alive: str, report: str, timeout: int = 900):
    """Load each of ``models`` (one empty-prompt request each, with ``keep_alive``) unless every one is loaded.

    The helper prints each cold load time (and Ollama's ``load_duration``) and writes ``report``
    (JSON). No-op when ``/api/ps`` already lists every model: a re-run changes nothing while they stay warm.
    """
    wanted = [normalize_model(m) for m in models]
    have = set(host.get_fact(OllamaLoaded, address=address))
    if not wanted or all(m in have for m in wanted):
        host.noop(f"warm: {', '.join(wanted) or 'no model to warm'}")
        return
    yield StringCommand(
        "python3",
        WARMUP_HELPER,
        QuoteString(address),
        *[QuoteString(m) for m in wanted],
        "--keep-alive",
        QuoteString(keep_alive),
        "--timeout",
        str(int(timeout)),
        "--report",
        QuoteString(report),
    )


def print_warm_up(report: str) -> None:
    """Show, in the deploy's output, the cold load time of each model the warm-up measured (``report``)."""
    ok, out = host.run_shell_command(StringCommand("cat", QuoteString(report)))
    try:
        doc = json.loads(out.stdout) if ok else None
    except ValueError:
        doc = None
    if doc is None:
        logger.warning(f"    [{host.name}] warm-up: no report at {report}")
        return
    for m in doc["models"]:
        if m.get("ok"):
            ollama = f", Ollama load_duration {m['load_duration_s']:.2f} s" if m.get("load_duration_s") is not None else ""
            logger.info(
                f"    [{host.name}] warm-up: {m['model']} loaded cold in {m['cold_s']:.2f} s{ollama} (keep_alive {doc['keep_alive']})"
            )
    logger.info(f"    [{host.name}] warm-up: loaded now: {', '.join(doc.get('loaded') or []) or 'none'}")
