"""Backend checks, straight to each local model's backend where this machine can reach it.

* llama.cpp: ``/health`` is ok (model loaded) and ``/props`` says the chat template supports tools
  (a model whose ``tools`` is ``required`` fails without it; ``optional`` warns);
* Ollama: the model is pulled (``/api/tags``), its digest is the one the inventory pins
  (``models[].ollama.digest``; a different one fails, naming both), and where it is loaded (``/api/ps``:
  ``size_vram`` of ``size`` → GPU, CPU or a split; a model partly or wholly on CPU on a host with a
  ``gpu`` section warns; on a host without one, CPU is what the inventory says and passes, said so);
* OpenAI-compatible: ``<api_path>/models`` answers and lists the upstream model.

A backend bound to the mesh is often not reachable from the operator's machine: a connect error
is a ``skip`` with the reason, never a pass (the gateway-side checks still judge the model).
"""

from __future__ import annotations

from llmfleet.checks.context import Ctx, Timer, model_result
from llmfleet.checks.http import Reply, RequestFailed, request
from llmfleet.checks.results import CheckResult
from llmfleet.checks.targets import ModelTarget, backend_headers
from llmfleet.checks.toolcall import error_from_body


class _Unreachable(Exception):
    pass


async def _get(ctx: Ctx, url: str, headers: dict[str, str]) -> Reply:
    try:
        return await request(ctx.client, "GET", url, timeouts=ctx.timeouts, headers=headers, total=min(ctx.timeouts.total, 15.0))
    except RequestFailed as exc:
        if exc.kind == "connect":
            raise _Unreachable(str(exc)) from None
        raise


def _json(reply: Reply) -> dict:
    try:
        data = reply.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _ollama_names(name: str) -> set[str]:
    return {name, f"{name}:latest"} if ":" not in name.rsplit("/", 1)[-1] else {name, name.removesuffix(":latest")}


async def check_backend(ctx: Ctx, target: ModelTarget) -> CheckResult:
    """The ``backend`` check of one model."""
    timer = Timer()
    name = target.name
    m = target.model
    if target.backend is None:
        return model_result(name, "backend", "skip", f"cloud model ({m.provider}): no backend to check directly", timer)
    b = target.backend
    if target.backend_base is None:
        return model_result(name, "backend", "skip", f"backend {b.name} has no address reachable from here", timer)
    headers, why = backend_headers(b)
    if why:
        return model_result(name, "backend", "skip", f"backend {b.name}: cannot read its api_key ({why})", timer)
    try:
        if b.kind == "llamacpp":
            return await _llamacpp(ctx, target, headers, timer)
        if b.kind == "ollama":
            return await _ollama(ctx, target, timer)
        return await _openai_compatible(ctx, target, headers, timer)
    except _Unreachable as exc:
        return model_result(name, "backend", "skip", f"backend {b.name} not reachable from this machine ({exc})", timer)
    except RequestFailed as exc:
        return model_result(name, "backend", "fail", f"backend {b.name}: {exc}", timer)


async def _llamacpp(ctx: Ctx, t: ModelTarget, headers: dict[str, str], timer: Timer) -> CheckResult:
    name, b = t.name, t.backend
    assert b is not None and t.backend_base is not None
    health = await _get(ctx, f"{t.backend_base}/health", headers)
    if health.status != 200:
        return model_result(
            name,
            "backend",
            "fail",
            f"llama.cpp {b.name} /health: {error_from_body(health.status, health.text)}",
            timer,
            http_status=health.status,
        )
    props_reply = await _get(ctx, f"{t.backend_base}/props", headers)
    if props_reply.status != 200:
        return model_result(
            name,
            "backend",
            "fail",
            f"llama.cpp {b.name} /props: {error_from_body(props_reply.status, props_reply.text)}",
            timer,
            http_status=props_reply.status,
        )
    props = _json(props_reply)
    caps = props.get("chat_template_caps") or {}
    supports = caps.get("supports_tool_calls", caps.get("supports_tools"))
    settings = props.get("default_generation_settings") or {}
    facts = {
        "template_supports_tools": supports,
        "n_ctx": settings.get("n_ctx"),
        "model_path": str(props.get("model_path", "")).rsplit("/", 1)[-1] or None,
        "total_slots": props.get("total_slots"),
    }
    if t.model.tools != "none" and supports is not True:
        what = "does not support tools" if supports is False else "reports no tool support (no chat_template_caps)"
        status = "fail" if t.model.tools == "required" else "warn"
        return model_result(
            name,
            "backend",
            status,
            f"llama.cpp {b.name} is up but its chat template {what} (tools: {t.model.tools}; is --jinja on?)",
            timer,
            http_status=200,
            facts=facts,
        )
    return model_result(
        name, "backend", "pass", f"llama.cpp {b.name} healthy, template tools: {supports}", timer, http_status=200, facts=facts
    )


async def _ollama(ctx: Ctx, t: ModelTarget, timer: Timer) -> CheckResult:
    name, b = t.name, t.backend
    assert b is not None and t.backend_base is not None
    tags = await _get(ctx, f"{t.backend_base}/api/tags", {})
    if tags.status != 200:
        return model_result(
            name, "backend", "fail", f"Ollama {b.name} /api/tags: {error_from_body(tags.status, tags.text)}", timer, http_status=tags.status
        )
    wanted = _ollama_names(t.model.upstream)
    pulled = [mm for mm in _json(tags).get("models") or [] if {mm.get("name"), mm.get("model")} & wanted]
    if not pulled:
        return model_result(
            name,
            "backend",
            "fail",
            f"Ollama {b.name} has not pulled {t.model.upstream} (" + _how_deploy_gets(t) + ")",
            timer,
            http_status=200,
            facts={"pulled": False},
        )
    digest, pin = _digests(t, pulled[0])
    facts: dict[str, str | int | float | bool | None] = {"pulled": True, "digest": digest, "digest_pinned": pin}
    if pin is not None and digest != pin:
        return model_result(
            name,
            "backend",
            "fail",
            f"Ollama {b.name} has {t.model.upstream} with digest {_short(digest)}, the inventory pins {_short(pin)}"
            " (a different model under that name; deploy re-creates or re-pulls it)",
            timer,
            http_status=200,
            facts=facts,
        )
    said = f"digest {_short(digest)} as pinned" if pin is not None else f"digest {_short(digest)}, not pinned in the inventory"
    ps = await _get(ctx, f"{t.backend_base}/api/ps", {})
    loaded = [mm for mm in _json(ps).get("models") or [] if {mm.get("name"), mm.get("model")} & wanted] if ps.status == 200 else []
    facts["loaded"] = bool(loaded)
    if not loaded:
        return model_result(
            name,
            "backend",
            "pass",
            f"Ollama {b.name}: {t.model.upstream} pulled ({said}), not loaded (the next request loads it: cold)",
            timer,
            http_status=200,
            facts=facts,
        )
    size = int(loaded[0].get("size") or 0)
    vram = int(loaded[0].get("size_vram") or 0)
    share = vram / size if size else 0.0
    placement = "GPU" if size and vram >= size else "CPU" if vram == 0 else f"{share:.0%} GPU / {1 - share:.0%} CPU"
    facts.update(placement=placement, size_bytes=size, size_vram_bytes=vram)
    host = ctx.inventory.host_by_name.get(b.host)
    has_gpu = host is not None and host.gpu is not None
    if placement != "GPU" and has_gpu:
        return model_result(
            name,
            "backend",
            "warn",
            f"Ollama {b.name}: {t.model.upstream} loaded on {placement} although the host has a GPU (VRAM full? slow; {said})",
            timer,
            http_status=200,
            facts=facts,
        )
    where = f"loaded on {placement}" + ("" if placement == "GPU" or has_gpu else f" (host {b.host} declares no GPU)")
    return model_result(
        name, "backend", "pass", f"Ollama {b.name}: {t.model.upstream} {where}, {said}", timer, http_status=200, facts=facts
    )


def _how_deploy_gets(t: ModelTarget) -> str:
    src = t.model.ollama
    if src is None:
        return f"ollama pull {t.model.upstream}"
    return f"deploy pulls it from {src.pull.reference(t.model.upstream)}" if src.pull is not None else "deploy creates it from its GGUF"


def _short(digest: str | None) -> str:
    """The first 12 hex digits, as ``ollama list`` shows a model's ID."""
    return digest.removeprefix("sha256:")[:12] if digest else "(none listed)"


def _digests(t: ModelTarget, tag: dict) -> tuple[str | None, str | None]:
    """(the digest ``/api/tags`` lists for the model, the digest the inventory pins or ``None``), both bare hex."""
    got = tag.get("digest")
    digest = str(got).removeprefix("sha256:") if got else None
    src = t.model.ollama
    pin = src.digest.removeprefix("sha256:") if src is not None and src.digest else None
    return digest, pin


async def _openai_compatible(ctx: Ctx, t: ModelTarget, headers: dict[str, str], timer: Timer) -> CheckResult:
    name, b = t.name, t.backend
    assert b is not None and t.backend_base is not None
    url = f"{t.backend_base}{b.api_path.rstrip('/')}/models"
    reply = await _get(ctx, url, headers)
    if reply.status != 200:
        return model_result(
            name, "backend", "fail", f"{b.name} {url}: {error_from_body(reply.status, reply.text)}", timer, http_status=reply.status
        )
    ids = {str(mm.get("id")) for mm in _json(reply).get("data") or [] if isinstance(mm, dict)}
    if ids and t.model.upstream not in ids:
        return model_result(
            name,
            "backend",
            "warn",
            f"{b.name} answers but does not list {t.model.upstream} (it lists {', '.join(sorted(ids)[:5])})",
            timer,
            http_status=200,
        )
    return model_result(name, "backend", "pass", f"{b.name} answers {url}", timer, http_status=200)
