#!/usr/bin/env python3
"""Warm up Ollama models after deploy and report how long each cold load took (runs on deployed hosts).

    warmup.py ADDRESS --keep-alive 30m [--report FILE] [--timeout SECONDS] MODEL [MODEL ...]

One ``/api/generate`` request per model with an empty prompt (Ollama loads the model and generates
nothing) and the inventory's ``keep_alive``, so the first client request finds it loaded. Prints,
per model, the wall time of that cold load and Ollama's own ``load_duration``; then the models
``/api/ps`` lists as loaded. ``--report`` writes the same as JSON. Exit 1 when a model did not load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request


def keep_alive_value(text: str) -> object:
    """Ollama takes a duration string ("30m") or a number of seconds (-1: forever)."""
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else text


def post(url: str, body: dict, timeout: float) -> dict:
    """POST ``body`` as JSON to ``url``; the decoded answer."""
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json", "User-Agent": "llmfleet-deploy"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def loaded(address: str) -> list[str]:
    """Names of the models Ollama has loaded (``/api/ps``)."""
    with urllib.request.urlopen(f"http://{address}/api/ps", timeout=20) as resp:
        return sorted(m.get("name") or m.get("model") for m in json.loads(resp.read()).get("models") or [])


def warm(address: str, model: str, keep_alive: object, timeout: float) -> dict:
    """Load ``model`` (empty prompt): its cold time as measured here and as Ollama reports it."""
    t0 = time.monotonic()
    try:
        out = post(f"http://{address}/api/generate", {"model": model, "prompt": "", "keep_alive": keep_alive, "stream": False}, timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        detail = exc.read().decode(errors="replace")[:300] if isinstance(exc, urllib.error.HTTPError) else str(exc)
        return {"model": model, "ok": False, "error": f"{type(exc).__name__}: {detail}"}
    cold = time.monotonic() - t0
    load = out.get("load_duration")
    return {"model": model, "ok": True, "cold_s": round(cold, 3), "load_duration_s": round(load / 1e9, 3) if load else None}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="warmup.py")
    parser.add_argument("address", help="host:port of the Ollama server")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--keep-alive", default="30m")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--report")
    args = parser.parse_args(argv)
    results = [warm(args.address, m, keep_alive_value(args.keep_alive), args.timeout) for m in args.models]
    for r in results:
        if r["ok"]:
            ollama = f", Ollama load_duration {r['load_duration_s']:.2f} s" if r["load_duration_s"] is not None else ""
            print(f"warm-up: {r['model']} loaded cold in {r['cold_s']:.2f} s{ollama}; keep_alive {args.keep_alive}", flush=True)
        else:
            print(f"warm-up: {r['model']} did not load: {r['error']}", file=sys.stderr, flush=True)
    resident = loaded(args.address)
    print(f"warm-up: loaded now: {', '.join(resident) or 'none'}", flush=True)
    if args.report:
        doc = {"address": args.address, "keep_alive": args.keep_alive, "time": round(time.time(), 3), "models": results, "loaded": resident}
        tmp = f"{args.report}.tmp"
        with open(tmp, "w") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, args.report)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
