#!/usr/bin/env python3
"""Apply a new gateway configuration, or roll back to the last good one (runs on gateway hosts).

    gateway.py snapshot --snapshot DIR FILE...
    gateway.py apply --snapshot DIR --url URL [--timeout S] (--unit UNIT | --project P --compose-file F [--compose CMD])

``snapshot`` copies the gateway's files (absolute paths; missing ones are recorded as absent)
into DIR (mode 0700) with a manifest marked *pending*. A pending snapshot is never overwritten:
when a run was interrupted after its snapshot, the live files may be half new, and the older
snapshot is still the last good configuration.

``apply`` restarts the gateway (systemd unit, or the compose project) and waits, bounded, for
URL to answer 200. Ready: the snapshot is marked applied, exit 0. Not ready: the snapshot's files
are restored (absent ones removed), the gateway restarted on them and waited for again, exit 1;
if there was no previous configuration, the gateway is stopped and the new files removed instead
of being left half-configured.
Nothing here prints file contents (the .env holds secrets).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wait import wait  # the helper beside this file on the host

MANIFEST = "manifest.json"


def _run(cmd: list[str], check: bool = True) -> int:
    print("+ " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if check and rc != 0:
        raise SystemExit(f"error: {' '.join(cmd)} exited {rc}")
    return rc


def _read_manifest(snapshot: str) -> dict | None:
    try:
        with open(os.path.join(snapshot, MANIFEST)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _write_manifest(snapshot: str, manifest: dict) -> None:
    tmp = os.path.join(snapshot, MANIFEST + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(snapshot, MANIFEST))


def snapshot(snapshot_dir: str, files: list[str]) -> None:
    """Record the current gateway files as the configuration to roll back to."""
    current = _read_manifest(snapshot_dir)
    if current and current.get("pending"):
        print(f"keeping the pending snapshot in {snapshot_dir} (an earlier run stopped before applying it)")
        return
    # The live files were last applied (and ready) at this URL: a rollback waits there.
    ready_url = current.get("ready_url") if current else None
    if os.path.isdir(snapshot_dir):
        shutil.rmtree(snapshot_dir)
    os.makedirs(snapshot_dir, mode=0o700)
    os.chmod(snapshot_dir, 0o700)
    stored: dict[str, str | None] = {}
    for index, path in enumerate(files):
        if os.path.isfile(path):
            name = f"{index:02d}-{os.path.basename(path)}"
            shutil.copy2(path, os.path.join(snapshot_dir, name))
            stored[path] = name
        else:
            stored[path] = None
    _write_manifest(snapshot_dir, {"files": stored, "pending": True, "ready_url": ready_url})
    print(f"snapshot of {sum(1 for v in stored.values() if v)} file(s) in {snapshot_dir}")


def _restore(snapshot_dir: str, manifest: dict) -> None:
    for path, name in manifest["files"].items():
        if name is None:
            if os.path.lexists(path):
                os.unlink(path)
            continue
        tmp = path + ".llmfleet-restore"
        shutil.copy2(os.path.join(snapshot_dir, name), tmp)
        os.replace(tmp, path)


def _restart(args: argparse.Namespace) -> None:
    if args.unit:
        _run(["systemctl", "daemon-reload"])
        _run(["systemctl", "restart", args.unit])
    else:
        compose = [*shlex.split(args.compose), "-p", args.project, "-f", args.compose_file]
        _run([*compose, "up", "-d", "--remove-orphans"])
        # config.yaml is bind-mounted: compose does not see its changes, a restart loads it.
        _run([*compose, "restart", "litellm"])


def _stop(args: argparse.Namespace) -> None:
    if args.unit:
        _run(["systemctl", "stop", args.unit], check=False)
    else:
        _run([*shlex.split(args.compose), "-p", args.project, "-f", args.compose_file, "down"], check=False)


def apply(args: argparse.Namespace) -> int:
    """Restart on the new files; roll back when they do not become ready in time."""
    _restart(args)
    if wait(args.url, args.timeout, 2, "gateway"):
        manifest = _read_manifest(args.snapshot)
        if manifest:
            manifest["pending"] = False
            manifest["ready_url"] = args.url
            _write_manifest(args.snapshot, manifest)
        return 0
    manifest = _read_manifest(args.snapshot)
    diagnose = f"journalctl -u {args.unit}" if args.unit else f"{args.compose} -p {args.project} logs litellm"
    if not manifest or not any(manifest["files"].values()):
        # First deployment: stop it and take its files away again, so that nothing (not even a
        # later "keep it running" step) starts a gateway on a configuration that never worked.
        _stop(args)
        if manifest:
            _restore(args.snapshot, manifest)
            manifest["pending"] = False
            _write_manifest(args.snapshot, manifest)
        if args.unit:
            _run(["systemctl", "daemon-reload"], check=False)
        print(
            f"error: the new gateway configuration did not become ready in {args.timeout:.0f} s and there is no "
            f"previous configuration: the gateway is stopped and its new files removed, not left half-configured "
            f"(see `{diagnose}`)",
            file=sys.stderr,
        )
        return 1
    _restore(args.snapshot, manifest)
    manifest["pending"] = False
    _write_manifest(args.snapshot, manifest)
    _restart(args)
    # The previous configuration answers where it answered before (its port may differ).
    ready = wait(manifest.get("ready_url") or args.url, args.timeout, 2, "previous gateway configuration")
    state = "is ready again" if ready else "is NOT ready either"
    print(
        f"error: the new gateway configuration did not become ready in {args.timeout:.0f} s; rolled back to the "
        f"previous configuration, which {state} (see `{diagnose}`)",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="gateway.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_snap = sub.add_parser("snapshot")
    p_snap.add_argument("--snapshot", required=True)
    p_snap.add_argument("files", nargs="+")
    p_apply = sub.add_parser("apply")
    p_apply.add_argument("--snapshot", required=True)
    p_apply.add_argument("--url", required=True)
    p_apply.add_argument("--timeout", type=float, default=180)
    p_apply.add_argument("--unit")
    p_apply.add_argument("--project")
    p_apply.add_argument("--compose-file")
    p_apply.add_argument("--compose", default="docker compose", help="the Docker Compose v2 command (shell words)")
    args = parser.parse_args(argv)
    if args.cmd == "snapshot":
        snapshot(args.snapshot, args.files)
        return 0
    if not args.unit and not (args.project and args.compose_file):
        parser.error("apply needs --unit, or --project and --compose-file")
    return apply(args)


if __name__ == "__main__":
    sys.exit(main())
