"""LiteLLM's two routes to Ollama, measured: ``ollama_chat/`` (Ollama's /api/chat) vs ``openai/`` (Ollama's /v1).

Everything real and on loopback: Ollama (built by ``make go-programs``) serving the *scripted* tiny GGUF
(:func:`fleetlab.tiny_gguf.write_scripted_tools_gguf`, a test fixture that answers llmfleet's tool-probe
questions with real tool calls) as ``tiny-tools``, created by ``ollama create`` from a Modelfile whose
TEMPLATE uses ``.Tools`` (Qwen2.5/Hermes style), and the LiteLLM proxy (``make litellm-proxy``) with one
model per route. For each route, streamed and not:

* whether tool calls survive: each of the probe's questions (``lookup``, ``choose``, ``no_tool``) through
  LiteLLM, judged by the probe's own classifier (name offered, id, arguments strict JSON valid against the
  tool's schema; prose when no tool is needed), ``--rounds`` times;
* gateway overhead: p50/p95 of (time through LiteLLM − time of the same request straight to Ollama's
  /v1), warm, interleaved, for a plain chat request and for a tool-call request.

Results go to ``benchmarks/RESULTS-ollama-routes.md``.

    python benchmarks/bench_ollama_routes.py [--requests 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fleetlab.ollama_local import run_ollama, tool_verdict  # noqa: E402
from fleetlab.processes import run_litellm  # noqa: E402
from fleetlab.programs import LITELLM_VERSION  # noqa: E402
from fleetlab.tiny_gguf import QWEN25_TOOLS_GO_TEMPLATE, write_scripted_tools_gguf  # noqa: E402
from llmfleet.checks.toolcall import SCENARIOS, request_body  # noqa: E402
from llmfleet.inventory.model import PREFIXES_BY_KIND  # noqa: E402
from llmfleet.versions import DEFAULT_OLLAMA_VERSION  # noqa: E402

RESULTS = REPO / "benchmarks" / "RESULTS-ollama-routes.md"
MODEL = "tiny-tools"
ROUTES = {"ollama_chat": "via-ollama-chat", "openai": "via-openai"}
CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}


def timed(client: httpx.Client, url: str, body: dict, headers: dict[str, str]) -> float:
    """Milliseconds until the whole answer (every SSE line when streamed) has arrived."""
    t0 = time.perf_counter()
    if body.get("stream"):
        with client.stream("POST", url, json=body, headers=headers) as resp:
            resp.raise_for_status()
            for _ in resp.iter_lines():
                pass
    else:
        client.post(url, json=body, headers=headers).raise_for_status()
    return (time.perf_counter() - t0) * 1000


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def overheads(
    client: httpx.Client, direct: str, gateway: str, body: dict, auth: dict[str, str], n: int
) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """``n`` warm rounds of the same request: straight to Ollama and through each route, in a rotating order
    (so every route sees the same load). Per route: (gateway − direct, gateway, direct) in ms."""
    targets = [("direct", direct, MODEL, {}), *[(route, gateway, route, auth) for route in ROUTES.values()]]
    for _ in range(3):
        for _label, url, model, headers in targets:
            timed(client, url, {**body, "model": model}, headers)
    times: dict[str, list[float]] = {label: [] for label, *_ in targets}
    for i in range(n):
        for label, url, model, headers in targets[i % len(targets) :] + targets[: i % len(targets)]:
            times[label].append(timed(client, url, {**body, "model": model}, headers))
    d = times["direct"]
    return {route: ([g - x for g, x in zip(times[route], d, strict=True)], times[route], d) for route in ROUTES.values()}


def route_choice(survival: dict[tuple[str, bool], Counter[str]], timings: list[tuple], total: int) -> list[str]:
    """Which routes keep tool calls working (every probe ok, streamed and not), which of them is cheaper, what is rendered."""
    keeps = [p for p in ROUTES if all(sum(n for k, n in survival[(p, s)].items() if k.endswith(" ok")) == total for s in (False, True))]
    wins: Counter[str] = Counter()
    for stream in (False, True):
        for kind in ("chat", "tool call"):
            rows = {p: (p50, p95) for p, s, k, p50, p95, *_ in timings if s == stream and k == kind and p in keeps}
            if rows:
                wins[min(rows, key=lambda p: rows[p])] += 1
    rendered = PREFIXES_BY_KIND["ollama"][0]
    lines = [
        f"Tool calls survive (every probe ok, streamed and not): {', '.join(f'`{p}/`' for p in keeps) or 'neither route'}.",
        "Lowest p50 overhead (p95 breaks ties) among those, per row: "
        + (", ".join(f"`{p}/` in {n} of {sum(wins.values())}" for p, n in wins.most_common()) or "—")
        + ".",
        f"llmfleet renders `{rendered}/` for an Ollama chat model (`llmfleet.inventory.model.PREFIXES_BY_KIND`); embeddings "
        "stay on `ollama/` (LiteLLM embeds Ollama only there). Timings on a shared, loaded 2-core machine are indicative: the "
        "routes differ by a few ms at p50, less than the run-to-run spread of the p95.",
    ]
    if rendered not in keeps:
        lines.append(f"**The rendered route `{rendered}/` did not keep tool calls working in this run.**")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30, help="timed rounds per overhead row")
    parser.add_argument("--rounds", type=int, default=3, help="times each tool question is asked per route and mode")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ollama-"))
    gguf = write_scripted_tools_gguf(work / "tiny-scripted-tools.gguf")
    modelfile = work / "Modelfile"
    modelfile.write_text(f'FROM {gguf}\nPARAMETER temperature 0\nPARAMETER stop "<|im_end|>"\nTEMPLATE """{QWEN25_TOOLS_GO_TEMPLATE}"""\n')
    key = "sk-bench-" + "0" * 24
    survival: dict[tuple[str, bool], Counter[str]] = {}
    examples: dict[tuple[str, bool], str] = {}
    timings: list[tuple[str, bool, str, float, float, float, float]] = []
    with run_ollama(DEFAULT_OLLAMA_VERSION, work) as ollama:
        ollama.create(MODEL, modelfile)
        config = {
            "model_list": [
                {"model_name": ROUTES["ollama_chat"], "litellm_params": {"model": f"ollama_chat/{MODEL}", "api_base": ollama.url}},
                {
                    "model_name": ROUTES["openai"],
                    "litellm_params": {"model": f"openai/{MODEL}", "api_base": f"{ollama.url}/v1", "api_key": "none"},
                },
            ],
            "general_settings": {"master_key": "os.environ/BENCH_KEY"},
        }
        (work / "config.yaml").write_text(json.dumps(config))
        with run_litellm(work / "config.yaml", env={"BENCH_KEY": key}, log_path=work / "litellm.log") as gw:
            auth = {"Authorization": f"Bearer {key}"}
            direct_url, gw_url = f"{ollama.url}/v1/chat/completions", f"{gw}/v1/chat/completions"
            tool_body = {k: v for k, v in request_body(SCENARIOS["lookup"], MODEL, stream=False).items() if k != "model"}
            with httpx.Client(timeout=120) as client:
                for prefix, route in ROUTES.items():
                    for stream in (False, True):
                        seen: Counter[str] = Counter()
                        for _ in range(args.rounds):
                            for name in SCENARIOS:
                                verdict, _ = tool_verdict(client, gw_url, route, name, stream=stream, headers=auth)
                                seen[f"{name} {verdict.outcome}"] += 1
                                if verdict.outcome != "ok":
                                    examples.setdefault((prefix, stream), f"{name}: {verdict.detail}")
                        survival[(prefix, stream)] = seen
                for stream in (False, True):
                    for kind, body in (("chat", CHAT), ("tool call", tool_body)):
                        measured = overheads(client, direct_url, gw_url, {**body, "stream": stream}, auth, args.requests)
                        for prefix, route in ROUTES.items():
                            ov, g, d = measured[route]
                            timings.append((prefix, stream, kind, pct(ov, 50), pct(ov, 95), pct(g, 50), pct(d, 50)))
    load = os.getloadavg()
    total = args.rounds * len(SCENARIOS)
    lines = [
        "# LiteLLM → Ollama: `ollama_chat/` vs `openai/` (Ollama's /v1)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `benchmarks/bench_ollama_routes.py` on this 2-core "
        f"machine (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end, shared with other work): real Ollama "
        f"{DEFAULT_OLLAMA_VERSION} (built from its Go module, CPU), real LiteLLM {LITELLM_VERSION} proxy, loopback. The model is the "
        "scripted tiny GGUF (`fleetlab.tiny_gguf.write_scripted_tools_gguf`, a test fixture: it answers the probe's questions "
        "with fixed tool calls, so what is measured is the transport, not a model), created with a Modelfile TEMPLATE that "
        "uses `.Tools` (`fleetlab.tiny_gguf.QWEN25_TOOLS_GO_TEMPLATE`).",
        "",
        "## Do tool calls survive?",
        "",
        f"Each of llmfleet's tool-probe questions asked {args.rounds}× per row through LiteLLM, judged by the probe's classifier "
        "(`llmfleet.checks.toolcall.classify`: OpenAI `tool_calls` with the offered name, an id, arguments that are strict JSON "
        "valid against the tool's schema; `no_tool` must come back as prose).",
        "",
        "| route | streamed | probes ok | outcomes | first failure |",
        "|---|---|---|---|---|",
    ]
    for (prefix, stream), seen in survival.items():
        ok = sum(n for k, n in seen.items() if k.endswith(" ok"))
        outcomes = ", ".join(f"{k} ×{n}" for k, n in sorted(seen.items()))
        detail = examples.get((prefix, stream), "—").replace("|", "/")
        lines.append(f"| `{prefix}/` | {'yes' if stream else 'no'} | {ok}/{total} | {outcomes} | {detail[:160]} |")
    lines += [
        "",
        "## Gateway overhead",
        "",
        f"Time through LiteLLM minus the same request straight to Ollama's /v1 in the same round, {args.requests} warm rounds "
        "per row (3 warm-up rounds first); each round sends the request straight, via `ollama_chat/` and via `openai/`, in a "
        'rotating order, so both routes see the same load. `chat`: "Say hello.", 8 tokens (the scripted model answers 7); '
        "`tool call`: the probe's `lookup` question with its tool (the answer is the same 4-token call every time).",
        "",
        "| route | streamed | request | overhead p50 (ms) | overhead p95 (ms) | through LiteLLM p50 (ms) | direct p50 (ms) |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| `{p}/` | {'yes' if s else 'no'} | {k} | {p50:.0f} | {p95:.0f} | {g50:.0f} | {d50:.0f} |"
            for p, s, k, p50, p95, g50, d50 in timings
        ],
        "",
        "## Route choice",
        "",
        *route_choice(survival, timings, total),
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
