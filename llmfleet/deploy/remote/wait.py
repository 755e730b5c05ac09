#!/usr/bin/env python3
"""Wait, bounded, until an HTTP endpoint answers 200 (runs on deployed hosts).

    wait.py URL [--timeout SECONDS] [--interval SECONDS] [--what TEXT]

Exit 0 when it answered 200 in time, 1 when the timeout passed (the last error is printed).
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request


def probe(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """One request: (answered 200, description of the outcome)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "llmfleet-deploy"}), timeout=timeout) as resp:
            return resp.status == 200, f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def wait(url: str, timeout: float, interval: float, what: str) -> bool:
    """Poll ``url`` until it answers 200 or ``timeout`` seconds passed."""
    start = time.monotonic()
    last = ""
    while True:
        ok, last = probe(url)
        elapsed = time.monotonic() - start
        if ok:
            print(f"{what} ready after {elapsed:.1f} s ({url})", flush=True)
            return True
        if elapsed >= timeout:
            print(f"{what} not ready after {timeout:.0f} s ({url}): {last}", file=sys.stderr, flush=True)
            return False
        time.sleep(min(interval, max(0.1, timeout - elapsed)))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="wait.py")
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--interval", type=float, default=2)
    parser.add_argument("--what", default="service")
    args = parser.parse_args(argv)
    return 0 if wait(args.url, args.timeout, args.interval, args.what) else 1


if __name__ == "__main__":
    sys.exit(main())
