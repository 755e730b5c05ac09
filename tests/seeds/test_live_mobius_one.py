"""Mobius One (ADR-002) live on booted lab hosts: two gateways over one Redis, load-balanced groups, rpm, fallbacks.

One boot for the module: ``inventories/mobius-one.yml`` + its lab overlay + ``mobius-one.test.yml``
(rpm 2 on both members of ``fast``, a 4,096-token window on gpt-35-turbo, no background health
checks), deployed twice (the second run changes nothing), then testinfra, ``/v1/models`` and
``llmfleet check`` (fleetlab.demo). Every model is a cloud model: each is answered by the lab's
STAND-IN for the internet (one real llama-server per model speaking the provider's API,
:mod:`fleetlab.cloudstandin`), which counts what reaches each deployment. The external Redis is
lab infrastructure: Debian's redis-server on gw-a at its mesh IP (:mod:`fleetlab.labredis`).

What is measured goes to ``out/mobius-one-live/measured.json`` (the README quotes it).
Marked ``lab``: needs root, the lab tools, the built llama-server and Go programs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fleetlab import cloudstandin, demo, seedlab
from fleetlab import hosts as labhosts
from fleetlab.hosts import LabFleet
from fleetlab.labredis import lab_redis
from llmfleet.inventory.model import Inventory

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "mobius-one.yml"
TEST_OVERLAY = Path(__file__).with_name("mobius-one.test.yml")
WORKDIR = REPO / ".lab-mobius-one"
OUT = REPO / "out" / "mobius-one-live"
GATEWAYS = ("gw-a", "gw-b")
TIMEOUT = 120.0  # healthy paths on a loaded 2-core machine


@dataclass
class Mobius:
    fleet: LabFleet
    inv: Inventory
    key: str
    urls: dict[str, str]
    deployments: dict[str, str]  # LiteLLM model id -> "group/member" or the model's own name
    measured: dict = field(default_factory=dict)

    def chat(self, gw: str, model: str, content: str = "hello", max_tokens: int = 4) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.post(f"{self.urls[gw]}/v1/chat/completions", json=body, headers=headers, timeout=TIMEOUT)

    def served_by(self, resp: httpx.Response) -> str:
        model_id = resp.headers.get("x-litellm-model-id")
        assert model_id in self.deployments, f"no known deployment in the answer's headers: {dict(resp.headers)}"
        return self.deployments[model_id]

    def redis(self, *args: str, auth: bool = True) -> subprocess.CompletedProcess[str]:
        """redis-cli on gw-a against the shared Redis; the password goes over stdin (never argv)."""
        r = lab_redis(self.inv)
        assert r is not None
        cli = f"exec redis-cli --no-auth-warning -h {r.ip} -p {r.port} " + " ".join(shlex.quote(a) for a in args)
        script = f"IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH; {cli}" if auth else f"read -r _; {cli}"
        pw = seedlab.lab_secrets(self.inv, WORKDIR)[r.password_env]
        return subprocess.run(
            ["ssh", "-F", str(self.fleet.ssh_config), r.host, script], input=pw + "\n", capture_output=True, text=True, timeout=60
        )

    def served(self) -> Counter[str]:
        """Completions each stand-in has run so far (after its log settles)."""
        names = [s.model for s in cloudstandin.standins(self.inv)]
        last: Counter[str] | None = None
        for _ in range(20):
            now = Counter({n: cloudstandin.served(WORKDIR, n) for n in names})
            if now == last:
                return now
            last = now
            time.sleep(0.5)
        return last or Counter()


def _deployments(url: str, key: str) -> dict[str, str]:
    resp = httpx.get(f"{url}/v1/model/info", headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
    resp.raise_for_status()
    out = {}
    for d in resp.json()["data"]:
        info = d["model_info"]
        out[info["id"]] = f"{info['llmfleet_member_of']}/{info['llmfleet_member']}" if info.get("llmfleet_member_of") else d["model_name"]
    return out


@pytest.fixture(scope="module")
def mobius() -> Iterator[Mobius]:
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    labhosts.lab_down(WORKDIR)  # a lab a dead run left here
    t0 = time.monotonic()
    fleet, (_, key), _, inv = demo.boot_and_deploy(INVENTORY, WORKDIR, "mobius-one", extra_overlay=TEST_OVERLAY)
    try:
        t_deploy = time.monotonic() - t0
        demo.verify_and_check(fleet, INVENTORY, (inv.gateway.master_key.env_name, key), OUT, inv)
        urls = {gw: f"http://{fleet.hosts[gw].address}:{inv.gateway.port}" for gw in GATEWAYS}
        deployments = _deployments(urls["gw-a"], key)
        assert _deployments(urls["gw-b"], key) == deployments, "both gateways must load the same deployments"
        m = Mobius(fleet, inv, key, urls, deployments)
        m.measured["boot_deploy_twice_s"] = round(t_deploy, 1)
        m.measured["verify_and_check_s"] = round(time.monotonic() - t0 - t_deploy, 1)
        yield m
        m.measured["module_s"] = round(time.monotonic() - t0, 1)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "measured.json").write_text(json.dumps(m.measured, indent=2) + "\n")
        print(f"\nmobius-one measured: {json.dumps(m.measured)}")
    finally:
        labhosts.lab_down(WORKDIR)


def test_checked_through_both_gateways_nothing_skipped(mobius: Mobius) -> None:
    # verify_and_check passed in the fixture: testinfra, /v1/models, llmfleet check. Every model is
    # answered by the stand-in for the internet, so none is reported skipped.
    assert json.loads((OUT / "skipped.json").read_text()) == {}
    report = json.loads((OUT / "check.json").read_text())
    assert report, "llmfleet check wrote its report"
    for gw in GATEWAYS:
        assert mobius.chat(gw, "smart").status_code == 200


def _wait_for_minute_start(latest_second: int) -> None:
    """Sleep into a fresh UTC minute when fewer than ``60 - latest_second`` seconds are left (LiteLLM's rpm windows)."""
    now = datetime.now(UTC)
    if now.second > latest_second:
        time.sleep(60 - now.second - now.microsecond / 1e6 + 0.5)


def _minute() -> str:
    return datetime.now(UTC).strftime("%H-%M")


def _rpm_counters(mobius: Mobius, minute: str) -> dict[str, int]:
    """The rpm counters LiteLLM keeps in the shared Redis for ``minute``, by deployment."""
    keys = mobius.redis("--scan", "--pattern", f"*:rpm:{minute}")
    assert keys.returncode == 0, keys.stderr
    out: dict[str, int] = {}
    for k in keys.stdout.split():
        value = mobius.redis("GET", k)
        assert value.returncode == 0, value.stderr
        out[mobius.deployments.get(k.split(":")[0], k)] = int(float(value.stdout.strip()))
    return out


def test_both_gateways_share_one_redis(mobius: Mobius) -> None:
    denied = mobius.redis("PING", auth=False)
    assert "NOAUTH" in denied.stdout + denied.stderr, "the lab Redis must require its password"
    _wait_for_minute_start(40)
    minute = _minute()
    time.sleep(3)  # LiteLLM pushes its in-memory counters to Redis every second
    smart_before = {d: n for d, n in _rpm_counters(mobius, minute).items() if d.startswith("smart/")}
    for gw in ("gw-a", "gw-a", "gw-a", "gw-b", "gw-b", "gw-b"):
        assert mobius.chat(gw, "smart").status_code == 200
    time.sleep(3)
    assert _minute() == minute, "the requests crossed a minute boundary (rpm windows): rerun"
    clients = mobius.redis("CLIENT", "LIST")
    assert clients.returncode == 0, clients.stderr
    peers = {
        part.split("=", 1)[1].rsplit(":", 1)[0] for line in clients.stdout.splitlines() for part in line.split() if part.startswith("addr=")
    }
    mesh = {gw: mobius.fleet.hosts[gw].mesh_ip for gw in GATEWAYS}
    assert set(mesh.values()) <= peers, f"both gateways connect to the one Redis over the mesh: {peers} vs {mesh}"
    counters = {d: n for d, n in _rpm_counters(mobius, minute).items() if d.startswith("smart/")}
    mobius.measured["redis_smart_rpm_counters"] = {"before": smart_before, "after_3_via_gw_a_3_via_gw_b": counters}
    added = sum(counters.values()) - sum(smart_before.values())
    assert added == 6, f"one shared counter per deployment, incremented by both gateways: {smart_before} -> {counters}"


def test_requests_spread_across_a_groups_members(mobius: Mobius) -> None:
    before = mobius.served()
    by_header: Counter[str] = Counter()
    for i in range(20):
        resp = mobius.chat(GATEWAYS[i % 2], "smart")
        assert resp.status_code == 200, resp.text
        by_header[mobius.served_by(resp)] += 1
    delta = mobius.served() - before
    mobius.measured["smart_spread_20"] = {"at_standins": dict(delta), "by_header": dict(by_header)}
    assert delta["claude-opus"] + delta["gpt-4-turbo"] == 20 and delta["claude-haiku"] == delta["gpt-35-turbo"] == 0
    assert delta["claude-opus"] >= 3 and delta["gpt-4-turbo"] >= 3, f"both members of smart serve: {delta}"
    assert by_header == Counter({"smart/claude-opus": delta["claude-opus"], "smart/gpt-4-turbo": delta["gpt-4-turbo"]})


def test_rpm_limits_across_both_gateways_and_fallbacks_fire(mobius: Mobius) -> None:
    """14 requests to ``fast`` (both members rpm 2), alternating gw-a/gw-b, 2 s apart, within one minute.

    LiteLLM 1.106.2's usage-based-routing-v2 counts each request in the proxy process's memory and
    pushes the increments to the shared Redis every second; a process reads Redis for a counter it
    does not hold yet. With requests spaced wider than that push (2 s vs 1 s), every process of both
    gateways (2 × 2 workers) sees the others' usage, and no member gets more than its rpm in the
    minute. (Selection skips a deployment once count + 1 >= rpm, so a member may get only rpm - 1.)
    A burst faster than the push can pass rpm by design; it is not what this test measures. Requests the group cannot take go to the seed's fallback (``fast: [claude-haiku, ...]``).
    """
    rpm = {m.model: m.rpm for g in mobius.inv.routing.groups if g.name == "fast" for m in g.members}
    assert rpm == {"claude-haiku": 2, "gpt-35-turbo": 2}, "the test overlay's low rpm"
    processes = len(GATEWAYS) * mobius.inv.gateway.workers
    n, spacing = 14, 2.0
    _wait_for_minute_start(2)
    minute = _minute()
    before = mobius.served()
    by_header: Counter[str] = Counter()
    by_gateway: dict[str, Counter[str]] = {gw: Counter() for gw in GATEWAYS}
    fallbacks = 0
    t0 = time.monotonic()
    for i in range(n):
        gw = GATEWAYS[i % 2]
        resp = mobius.chat(gw, "fast")
        assert resp.status_code == 200, f"request {i} via {gw}: {resp.status_code} {resp.text[:300]}"
        who = mobius.served_by(resp)
        by_header[who] += 1
        by_gateway[gw][who] += 1
        fallbacks += int(resp.headers.get("x-litellm-attempted-fallbacks", "0") or 0) > 0
        time.sleep(spacing)
    seconds = time.monotonic() - t0
    time.sleep(3)
    assert _minute() == minute, f"the {n} requests took {seconds:.0f} s and crossed a minute boundary (rpm windows): rerun"
    delta = mobius.served() - before
    counters = {d: v for d, v in _rpm_counters(mobius, minute).items() if d.startswith("fast/")}
    members = {name: by_header[f"fast/{name}"] for name in rpm}
    mobius.measured["fast_rpm"] = {
        "requests": n,
        "spacing_s": spacing,
        "rpm_per_member": rpm,
        "proxy_processes": processes,
        "served_by_member": members,
        "served_by_fallback": by_header["claude-haiku"],
        "answers_with_fallback_header": fallbacks,
        "by_gateway": {gw: dict(c) for gw, c in by_gateway.items()},
        "at_standins": dict(delta),
        "redis_rpm_counters": counters,
        "strict_rpm_held": all(v <= rpm[k] for k, v in members.items()),
        "seconds": round(seconds, 1),
    }
    print(f"\nfast, rpm 2 per member, {n} requests alternating gateways: {json.dumps(mobius.measured['fast_rpm'])}")
    # Every request is answered: by a member while its rpm lasts, else by the fallback.
    assert sum(by_header.values()) == n and set(by_header) <= {"fast/claude-haiku", "fast/gpt-35-turbo", "claude-haiku"}
    # What the stand-ins saw is what the headers say (only fast's member reaches gpt-35-turbo's server).
    assert delta["gpt-35-turbo"] == members["gpt-35-turbo"]
    assert delta["claude-haiku"] == members["claude-haiku"] + by_header["claude-haiku"]
    # Usage is shared through the one Redis: its counter holds both gateways' requests to a member.
    for name, count in members.items():
        assert counters.get(f"fast/{name}", 0) >= count, f"Redis counter of fast/{name}: {counters}"
    # The limit holds across both gateways: each member served at most its rpm in the minute, at least once.
    for name, count in members.items():
        assert 1 <= count <= rpm[name], f"fast/{name}: {count} requests in one minute (rpm {rpm[name]}): {mobius.measured['fast_rpm']}"
    # The fallback answered the rest, and said so.
    assert by_header["claude-haiku"] == n - sum(members.values()) >= n - sum(rpm.values())
    assert fallbacks == by_header["claude-haiku"]


def test_context_window_fallback_fires(mobius: Mobius) -> None:
    window = next(m.context_window for m in mobius.inv.models if m.name == "gpt-35-turbo")
    assert window == 4096, "the test overlay's window"
    before = mobius.served()
    small = mobius.chat("gw-b", "gpt-35-turbo")
    assert small.status_code == 200 and mobius.served_by(small) == "gpt-35-turbo"
    big = mobius.chat("gw-a", "gpt-35-turbo", content="a " * 4600)  # ~4,600 cl100k tokens > 4,096
    assert big.status_code == 200, big.text[:300]
    assert mobius.served_by(big) == "claude-haiku", "the context-window fallback (gpt-35-turbo: [claude-haiku]) answered"
    delta = mobius.served() - before
    refused = cloudstandin.served(WORKDIR, "gpt-35-turbo", mark="exceeds the available context size")
    mobius.measured["context_window_fallback"] = {"at_standins": dict(delta), "refused_by_gpt35_standin": refused}
    assert delta["claude-haiku"] == 1 and delta["gpt-35-turbo"] == 1


def test_provider_outage(mobius: Mobius) -> None:
    """Stop claude-opus's server: `smart` keeps answering from gpt-4-turbo. Stop that too: nothing can
    answer, because the seed's fallbacks for `smart` are its own members' models (same providers)."""
    cloudstandin.stop(WORKDIR, "claude-opus")
    before = mobius.served()
    who: Counter[str] = Counter()
    for i in range(6):
        resp = mobius.chat(GATEWAYS[i % 2], "smart")
        assert resp.status_code == 200, resp.text[:300]
        who[mobius.served_by(resp)] += 1
    delta = mobius.served() - before
    mobius.measured["smart_with_claude_opus_down"] = {"by_header": dict(who), "at_standins": dict(delta)}
    assert delta["gpt-4-turbo"] == 6 and set(who) <= {"smart/gpt-4-turbo", "gpt-4-turbo"}
    cloudstandin.stop(WORKDIR, "gpt-4-turbo")
    t0 = time.monotonic()
    resp = mobius.chat("gw-a", "smart")
    mobius.measured["smart_with_both_down"] = {"status": resp.status_code, "seconds": round(time.monotonic() - t0, 1)}
    assert resp.status_code >= 400, "no deployment and no fallback can answer"
