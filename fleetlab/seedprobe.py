"""Seed measurements taken from a lab host's own vantage point (``LabFleet.run_from_host_net``).

``python -m fleetlab.seedprobe switch --gateway URL --models A,B [--ollama URL] [--rounds N]``
measures what a model switch costs through the gateway; the master key is read from the
environment variable ``--key-env`` names (never from the command line). It prints one JSON object.

**Switch cost** (the Netbox Chatbox seed's "model switch < 2 s"): the same chat request (fixed
prompt, ``temperature`` 0, ``max_tokens`` 16, not streamed) is sent in the order A A B B A A B B ...,
one at a time. The first request of each pair follows a request for the other model (a *switch*),
the second repeats the model just used (a *repeat*). The switch cost is the median end-to-end time
of the switch requests minus the median of the repeat requests: what a user waits extra for the
first answer after picking the other model. With ``--ollama`` the models Ollama holds loaded
(``/api/ps``) are read after each switch request: on an Ollama with ``max_loaded_models: 1`` each
switch unloads one model and loads the other, and the list shows it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import httpx

PROMPT = "Count from 1 to 10, separated by spaces."


def _timed_chat(client: httpx.Client, gateway: str, key: str, model: str) -> float:
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16, "temperature": 0}
    t0 = time.perf_counter()
    resp = client.post(f"{gateway}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    ms = (time.perf_counter() - t0) * 1000
    resp.raise_for_status()
    if not resp.json().get("choices"):
        raise RuntimeError(f"{model}: HTTP {resp.status_code} without choices")
    return ms


def _loaded(client: httpx.Client, ollama: str) -> list[str]:
    return sorted(m["name"] for m in client.get(f"{ollama}/api/ps").json().get("models", []))


def switch_cost(gateway: str, key: str, models: tuple[str, str], *, rounds: int, ollama: str | None = None) -> dict[str, Any]:
    """Alternate pairs of requests between two models; see the module doc for the definition."""
    switch: list[float] = []
    repeat: list[float] = []
    loaded: list[dict[str, Any]] = []
    with httpx.Client(timeout=300) as client:
        for model in models:  # warm both once; the first timed request is then a real switch
            _timed_chat(client, gateway, key, model)
        for _ in range(rounds):
            for model in models:
                switch.append(_timed_chat(client, gateway, key, model))
                if ollama:
                    loaded.append({"asked": model, "loaded": _loaded(client, ollama)})
                repeat.append(_timed_chat(client, gateway, key, model))
    s50, r50 = statistics.median(switch), statistics.median(repeat)
    return {
        "models": list(models),
        "rounds": rounds,
        "switch_ms": [round(x, 1) for x in switch],
        "repeat_ms": [round(x, 1) for x in repeat],
        "switch_p50_ms": round(s50, 1),
        "repeat_p50_ms": round(r50, 1),
        "switch_max_ms": round(max(switch), 1),
        "cost_ms": round(s50 - r50, 1),
        "loaded_after_switch": loaded,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m fleetlab.seedprobe", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("switch", help="what a model switch costs through the gateway")
    p.add_argument("--gateway", required=True)
    p.add_argument("--models", required=True, help="two public model names, comma-separated")
    p.add_argument("--key-env", default="LITELLM_MASTER_KEY")
    p.add_argument("--ollama", help="the Ollama both models run on (reads /api/ps after each switch)")
    p.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    a, b = args.models.split(",")
    out = switch_cost(args.gateway.rstrip("/"), os.environ[args.key_env], (a, b), rounds=args.rounds, ollama=args.ollama)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
