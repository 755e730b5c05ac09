"""One booted seed fleet per test module: boot, deploy twice, (observe), verify + check, tear down.

:func:`booted_seed` is what a module-scoped fixture of ``tests/seeds/test_live_<seed>.py`` yields:
:func:`fleetlab.demo.boot_and_deploy` (the second deploy must change nothing), then an optional
``after_deploy`` observation (what the first client sees right after deploy, before anything else
touches the fleet), then :func:`fleetlab.demo.verify_and_check` (testinfra, discovery, ``llmfleet
check``; cloud models skipped with the reason), then the module's tests, then the teardown.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fleetlab import demo, seedlab
from fleetlab import hosts as labhosts
from fleetlab.hosts import LabFleet
from llmfleet.inventory.model import Inventory


@dataclass
class SeedLab:
    """A booted, deployed and checked seed fleet."""

    seed: str
    fleet: LabFleet
    key: str
    inv: Inventory
    out: Path
    seconds: dict[str, float]
    observed: dict[str, Any] = field(default_factory=dict)

    @property
    def gateway_host(self) -> str:
        return self.inv.hosts_with("gateway")[0].name

    @property
    def gateway(self) -> str:
        """The gateway's base URL from the gateway host itself."""
        gw = self.inv.gateway
        return f"http://{gw.local_address}:{gw.port}"

    def sh(self, host: str, command: str, timeout: float = 120) -> str:
        """Run ``command`` on ``host`` (root); its stdout, or an assertion error with stderr."""
        out = self.fleet.ssh(host, command, timeout=timeout)
        assert out.returncode == 0, f"{host}: {command}: exit {out.returncode}: {out.stderr[-1500:]}"
        return out.stdout

    def request(self, method: str, path: str, body: Any = None, *, host: str | None = None, timeout: float = 300) -> dict[str, Any]:
        """One request to the gateway (``path``) or any URL, from ``host`` (default: the gateway host), with the master key."""
        url = path if path.startswith("http") else self.gateway + path
        key = self.key if not path.startswith("http") else None
        return seedlab.request_from_host(self.fleet, host or self.gateway_host, method, url, key=key, body=body, timeout=timeout)

    def chat(self, model: str, content: str = "hi", max_tokens: int = 8, **kw: Any) -> dict[str, Any]:
        body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, "temperature": 0}
        return self.request("POST", "/v1/chat/completions", body, **kw)

    def wait_http(self, host: str, url: str, timeout: float = 180) -> None:
        """Until ``url`` answers 200 on ``host`` (after a service under test was started again)."""
        probe = f"until python3 -c 'import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=5)' {shlex.quote(url)} 2>/dev/null; do sleep 1; done"
        self.sh(host, f"timeout {int(timeout)} sh -c {shlex.quote(probe)}", timeout=timeout + 30)

    def check_report(self) -> dict[str, Any]:
        return json.loads((self.out / "check.json").read_text())


@contextlib.contextmanager
def booted_seed(
    seed: str, tmp_path_factory: pytest.TempPathFactory, after_deploy: Callable[[SeedLab], dict[str, Any]] | None = None
) -> Iterator[SeedLab]:
    """The module's booted seed fleet (see the module doc); skips when the lab cannot run here."""
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp(f"lab-{seed}")
    out = workdir / "report"
    inventory = seedlab.seed_files(seed)[0]
    t0 = time.monotonic()
    fleet, key, booted, inv = demo.boot_and_deploy(inventory, workdir, seed)
    lab = SeedLab(seed, fleet, key[1], inv, out, {"boot_and_deploy_twice": time.monotonic() - t0})
    try:
        if after_deploy is not None:
            lab.observed = after_deploy(lab)
        t1 = time.monotonic()
        demo.verify_and_check(fleet, inventory, key, out, inv)
        lab.seconds["verify_and_check"] = time.monotonic() - t1
        yield lab
    finally:
        if booted:
            labhosts.lab_down(workdir)
