"""Gateway checks: liveness, readiness, auth enforced, and `/v1/models` against the inventory.

:func:`preflight` raises :class:`~checks.targets.CannotRun` when nothing else could be judged:
the gateway does not answer at all, or it rejects the master key.
"""

from __future__ import annotations

import secrets

from llmfleet.checks.context import Ctx, Timer, gateway_result
from llmfleet.checks.http import RequestFailed, request
from llmfleet.checks.results import CheckResult, ModelsDiff
from llmfleet.checks.targets import CannotRun
from llmfleet.checks.toolcall import error_from_body
from llmfleet.inventory.secrets import SecretError, check_master_key_value


async def liveness(ctx: Ctx) -> CheckResult:
    """``GET /health/liveliness`` without a key; unreachable → CannotRun."""
    timer = Timer()
    url = ctx.url("/health/liveliness")
    try:
        reply = await request(ctx.client, "GET", url, timeouts=ctx.timeouts, total=ctx.timeouts.connect + ctx.timeouts.stall)
    except RequestFailed as exc:
        if exc.kind in ("connect", "timeout", "stall"):
            raise CannotRun(f"gateway unreachable at {ctx.gateway_url}: {exc}") from None
        return gateway_result("liveness", "fail", str(exc), timer)
    if reply.status != 200:
        return gateway_result(
            "liveness", "fail", f"{url} answered {error_from_body(reply.status, reply.text)}", timer, http_status=reply.status
        )
    return gateway_result("liveness", "pass", f"alive ({reply.elapsed_ms:.0f} ms)", timer, http_status=200)


async def readiness(ctx: Ctx) -> CheckResult:
    """``GET /health/readiness``: healthy, database connected when the inventory has one, version."""
    timer = Timer()
    url = ctx.url("/health/readiness")
    try:
        reply = await request(ctx.client, "GET", url, timeouts=ctx.timeouts)
    except RequestFailed as exc:
        return gateway_result("readiness", "fail", str(exc), timer)
    if reply.status != 200:
        return gateway_result(
            "readiness", "fail", f"not ready: {error_from_body(reply.status, reply.text)}", timer, http_status=reply.status
        )
    try:
        data = reply.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    status = str(data.get("status", "?"))
    db = data.get("db")
    version = data.get("litellm_version")
    facts = {"status": status, "db": str(db) if db is not None else None, "litellm_version": version}
    if status not in ("healthy", "connected"):
        return gateway_result("readiness", "fail", f"status is {status!r}, not healthy", timer, http_status=200, facts=facts)
    if ctx.inventory.gateway.database is not None and str(db).lower() != "connected":
        return gateway_result(
            "readiness", "fail", f"the inventory has a database but the gateway reports db={db!r}", timer, http_status=200, facts=facts
        )
    pinned = ctx.inventory.gateway.litellm_version
    if version and str(version) != pinned:
        return gateway_result(
            "readiness", "warn", f"ready, but runs LiteLLM {version} while the inventory pins {pinned}", timer, http_status=200, facts=facts
        )
    return gateway_result(
        "readiness", "pass", f"ready (LiteLLM {version or 'version not reported'}, db: {db})", timer, http_status=200, facts=facts
    )


async def key_accepted(ctx: Ctx) -> None:
    """``GET /v1/models`` with the master key must not be refused (401/403, or LiteLLM's no-database 400), else CannotRun."""
    try:
        reply = await request(ctx.client, "GET", ctx.url("/v1/models"), timeouts=ctx.timeouts, headers=ctx.auth())
    except RequestFailed as exc:
        if exc.kind in ("connect", "timeout", "stall"):
            raise CannotRun(f"gateway unreachable at {ctx.gateway_url}: {exc}") from None
        return
    # Without a database LiteLLM can only recognise its master key; any other key gets 400 "No connected db.".
    if reply.status in (401, 403) or _no_db_refusal(ctx, reply.status, reply.text):
        ref = ctx.inventory.gateway.master_key
        raise CannotRun(
            f"the gateway at {ctx.gateway_url} rejects the master key from {ref} (HTTP {reply.status}): "
            "is it the key the gateway was deployed with?"
        )


async def auth(ctx: Ctx) -> CheckResult:
    """No key and a wrong key must get 401/403 — on `/v1/models` and on chat — never 200."""
    timer = Timer()
    wrong = "sk-llmfleet-check-wrong-" + secrets.token_hex(12)
    model = ctx.inventory.models[0].name
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    bad_key = {"authorization": f"Bearer {wrong}"}
    probes = [
        ("GET /v1/models without a key", "GET", "/v1/models", {}, None),
        ("GET /v1/models with a wrong key", "GET", "/v1/models", bad_key, None),
        ("POST /v1/chat/completions without a key", "POST", "/v1/chat/completions", {}, chat),
        ("POST /v1/chat/completions with a wrong key", "POST", "/v1/chat/completions", bad_key, chat),
    ]
    problems: list[str] = []
    quirks: list[str] = []
    statuses: dict[str, str | int | float | bool | None] = {}
    for label, method, path, headers, body in probes:
        try:
            reply = await request(ctx.client, method, ctx.url(path), timeouts=ctx.timeouts, headers=headers, body=body)
        except RequestFailed as exc:
            problems.append(f"{label}: {exc}")
            statuses[label] = None
            continue
        statuses[label] = reply.status
        if reply.status in (401, 403):
            continue
        if 200 <= reply.status < 300:
            problems.append(f"{label} answered {reply.status}: the gateway is OPEN (auth is off)")
        elif headers and _no_db_refusal(ctx, reply.status, reply.text):
            quirks.append(label)
        else:
            problems.append(f"{label} answered {error_from_body(reply.status, reply.text)} instead of 401/403")
    try:
        check_master_key_value(ctx.master_key)
    except SecretError as exc:
        problems.append(f"weak master key: {exc}")
    if problems:
        return gateway_result("auth", "fail", "; ".join(problems), timer, facts=statuses)
    if quirks:
        return gateway_result(
            "auth",
            "warn",
            "locked: no key gets 401, but a wrong key gets HTTP 400 'No connected db.' "
            "instead of 401 (LiteLLM without a database cannot look keys up); clients see 400",
            timer,
            facts=statuses,
        )
    return gateway_result("auth", "pass", "no key and a wrong key are refused (401/403)", timer, facts=statuses)


def _no_db_refusal(ctx: Ctx, status: int, text: str) -> bool:
    """LiteLLM without a database answers a non-master key with 400 ``no_db_connection``: refused."""
    if status != 400 or ctx.inventory.gateway.database is not None:
        return False
    return "no_db_connection" in text or "No connected db" in text


async def models(ctx: Ctx) -> CheckResult:
    """``/v1/models`` equals the inventory's public names (models and groups)."""
    timer = Timer()
    url = ctx.url("/v1/models")
    try:
        reply = await request(ctx.client, "GET", url, timeouts=ctx.timeouts, headers=ctx.auth())
    except RequestFailed as exc:
        return gateway_result("models", "fail", str(exc), timer)
    if reply.status != 200:
        return gateway_result("models", "fail", error_from_body(reply.status, reply.text), timer, http_status=reply.status)
    try:
        data = reply.json()
        served = sorted({str(m["id"]) for m in data["data"]})
    except (ValueError, KeyError, TypeError):
        return gateway_result("models", "fail", f"{url} did not return an OpenAI model list: {reply.text[:200]!r}", timer, http_status=200)
    expected = ctx.inventory.public_names()
    diff = ModelsDiff(
        expected=expected, served=served, missing=sorted(set(expected) - set(served)), extra=sorted(set(served) - set(expected))
    )
    if diff.missing or diff.extra:
        parts = []
        if diff.missing:
            parts.append(f"missing {', '.join(diff.missing)}")
        if diff.extra:
            parts.append(f"extra {', '.join(diff.extra)}")
        return gateway_result("models", "fail", "; ".join(parts), timer, http_status=200, models_diff=diff)
    return gateway_result(
        "models", "pass", f"serves exactly the inventory's {len(expected)} names", timer, http_status=200, models_diff=diff
    )


async def preflight(ctx: Ctx) -> list[CheckResult]:
    """Liveness (unreachable → CannotRun), key accepted (else CannotRun), readiness, auth, models."""
    results = [await liveness(ctx)]
    await key_accepted(ctx)
    results.append(await readiness(ctx))
    results.append(await auth(ctx))
    results.append(await models(ctx))
    return results
