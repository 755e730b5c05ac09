"""Lab STAND-IN for the TLS reverse proxy in front of Headscale: a plain TCP relay.

On a real fleet, nodes reach Headscale at its public ``server_url`` (DNS + a TLS proxy on the
Headscale host forwarding to ``listen_addr``, 127.0.0.1:8080). The lab has neither DNS nor
certificates, so this relay listens on the machine's lab address (``10.231.0.1:8443``) and
forwards each connection to ``listen_addr`` *inside the Headscale host's network namespace*: the
listening socket is created in the machine's namespace, then the process joins the host's
namespace, so every outgoing socket is created there. Lab hosts learn the relay's URL from
``/etc/llmfleet-lab/tailscale-login-server`` (read by the tailscale stand-in only).

    python -m fleetlab.relay --listen 10.231.0.1:8443 --netns llmfleet-gw1 --target 127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import socket
import sys
import threading

__all__ = ["join_netns", "main", "serve"]

CLONE_NEWNET = 0x40000000


def join_netns(name: str) -> None:
    """Move this process into network namespace ``/run/netns/<name>`` (Linux ``setns``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _handle(client: socket.socket, target: tuple[str, int]) -> None:
    with client:
        try:
            upstream = socket.create_connection(target, timeout=5.0)
        except OSError as exc:
            print(f"relay: cannot reach {target[0]}:{target[1]}: {exc}", file=sys.stderr, flush=True)
            return
        with upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join(timeout=60)


def serve(listener: socket.socket, target: tuple[str, int]) -> None:
    """Accept connections forever, relaying each to ``target`` in a thread."""
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_handle, args=(client, target), daemon=True).start()


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, type=_hostport)
    parser.add_argument("--netns", required=True)
    parser.add_argument("--target", required=True, type=_hostport)
    args = parser.parse_args(argv)
    listener = socket.create_server(args.listen, reuse_port=False)
    join_netns(args.netns)
    print(f"relay: {args.listen[0]}:{args.listen[1]} -> {args.netns} {args.target[0]}:{args.target[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        serve(listener, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
