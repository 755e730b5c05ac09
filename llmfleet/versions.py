"""Everything llmfleet knows about versions: default pins, version-gated behaviour, advisories, policy.

* **Default pins** (``DEFAULT_*``): what a draft inventory, a model default or an installer uses when
  nothing else is said. They must pass :func:`audit` (a test checks it).
* **Gates** (``*_VERSION`` tuples): the first release of a program that changed a flag or a format.
* **Advisories**: ``llmfleet/data/advisories.toml``, one row per known advisory with its source; how
  to refresh it is written at the top of that file.
* **Policy** (:func:`verdict`): a compromised release, or a critical advisory without a condition, is
  refused (``validate`` exits 2); anything else that matches is a warning.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

# ---------------------------------------------------------------- default pins
DEFAULT_LITELLM_VERSION = "1.106.2"
#: The newest Ollama that builds and runs here (GO_BUILDS: 0.17.4 is the newest release the Go proxy lists).
DEFAULT_OLLAMA_VERSION = "0.17.4"
DEFAULT_LLAMACPP_VERSION = "b4589"
#: Headscale and Tailscale: the releases built here from their Go modules and run in the lab (GO_BUILDS).
DEFAULT_HEADSCALE_VERSION = "0.29.2"
DEFAULT_TAILSCALE_VERSION = "1.102.3"
DEFAULT_POSTGRES_IMAGE = "postgres:16.4"
#: 7.4.6 fixes GHSA-4789-qfc9-5f9q (CVE-2025-49844, CVSS 10); 7.4.1 was the earlier default.
DEFAULT_REDIS_IMAGE = "redis:7.4.6"

# ---------------------------------------------------------------- version gates
#: Headscale 0.26 took policy v2 (users written ``name@``) and ``preauthkeys --user`` by numeric id.
HEADSCALE_POLICY_V2 = (0, 26, 0)
HEADSCALE_USER_ID_FLAG = (0, 26, 0)
#: From Headscale 0.28 tags are a node's identity: a node joining with a pre-auth key gets its tags from the
#: key (``preauthkeys create --tags``); 0.29 refuses a pre-auth-key join that also asks for tags
#: (``tailscale up --advertise-tags``). Before 0.28 a user's key plus ``--advertise-tags`` (checked
#: against ``tagOwners``) tags the node.
HEADSCALE_TAGGED_KEYS = (0, 28, 0)
#: Headscale 0.29 moved ``ephemeral_node_inactivity_timeout`` to ``node.ephemeral.inactivity_timeout``,
#: refuses ``randomize_client_port`` (now ``randomizeClientPort`` in the policy), refuses to start after a
#: skipped minor release and after a downgrade (its CHANGELOG, 0.29.0).
HEADSCALE_NODE_BLOCK = (0, 29, 0)
#: The Headscale minor releases llmfleet renders configuration, policy and pre-auth-key commands for, each
#: with the release that proves it: built here from its Go module (:data:`GO_BUILDS`,
#: :data:`HEADSCALE_LAB_BUILDS`), started on a booted lab host with the files rendered for it, a key minted
#: with that minor's command and a real Tailscale :data:`DEFAULT_TAILSCALE_VERSION` joined and online
#: (``tests/deploy/test_headscale_versions_lab.py``; 0.29 in ``tests/deploy/test_deploy_lab.py``).
#: One per key-command variant: ``--user NAME`` (0.23), ``--user ID`` (0.26), ``--tags`` (0.28, 0.29).
#: Another patch release of a listed minor takes the same keys and commands. A minor not listed
#: (0.24, 0.25, 0.27, anything outside) is refused by ``validate``: what it needs was read from the
#: changelog, never run (each more minor is one more cold build for CI, see tools/FINDINGS.md).
HEADSCALE_LAB_RELEASES: dict[tuple[int, int], str] = {
    (0, 23): "0.23.0",
    (0, 26): "0.26.1",
    (0, 28): "0.28.0",
    (0, 29): DEFAULT_HEADSCALE_VERSION,
}
#: First llama.cpp build whose ``--flash-attn`` takes a value (on|off|auto, default auto) instead
#: of being a bare switch (ggml-org/llama.cpp#15434, shipped by b6327).
LLAMA_FLASH_ATTN_VALUE_BUILD = 6327

# ---------------------------------------------------------------- Go builds
#: What ``tools/build-go-programs.sh`` (``make go-programs``) builds: the exact module version, its
#: ``h1:`` checksum (the one the Go checksum database holds; the script refuses a module that differs;
#: every dependency is verified against the checksum database by ``go`` itself) and the Go toolchain
#: (``local`` = Go 1.26.8). Newest that builds here, and why:
#:
#: * Tailscale 1.102.3: 1.104.x needs Go >= 1.27.3 (available) but the proxy refuses some of its
#:   dependencies' pseudo-versions (wireguard-go, gvisor, gliderssh: 403), so it cannot be built here.
#: * Headscale 0.29.2: the newest the proxy serves (it refuses 0.29.7 and 0.29.8 with 403, so the
#:   0.29.7 advisory stays a warning here); it also refuses the version list, so `go install` reads the
#:   module cache first (the exact version is served and checksum-verified).
#: * Ollama 0.17.4: the newest release the proxy lists (v0.6.5 ... v0.17.4; 0.17.1 fixes CVE-2026-7482). Its
#:   module zip lacks llama/llama.cpp/vendor/ (nlohmann/json, stb_image, miniaudio headers), taken from the
#:   llama-cpp-python sdist; built with cgo, CPU only. From 0.30 Ollama needs a separately built llama-server.
GO_BUILDS: dict[str, dict[str, str]] = {
    "headscale": {
        "version": DEFAULT_HEADSCALE_VERSION,
        "h1": "h1:eW7zz5yiVlSP1+5zUgPM2YWOoSNkzgX0wBMt5T4zF9g=",
        "toolchain": "local",
        "version_var": "",  # 0.28+ read their version from the build info
        "sumdb_missing": "",
    },
    "tailscale": {"version": DEFAULT_TAILSCALE_VERSION, "h1": "h1:M1czCAtMuIcg+2Z+FBPbJyAk3ZEQGEFKnvHthtE1c6M=", "toolchain": "local"},
    "ollama": {
        "version": DEFAULT_OLLAMA_VERSION,
        "h1": "h1:X3KNm9x4BlHqk/AXMGtC7pBAFd46nmJmy8yDaBZLo9s=",
        "toolchain": "local",
        # The three header-only libraries the module zip drops (vendor/ folders): from this sdist's llama.cpp tree.
        "headers_sdist_version": "0.3.36",
        "headers_sdist_sha256": "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    },
}


#: The older Headscale releases of :data:`HEADSCALE_LAB_RELEASES`, built for the lab only (``make
#: go-programs``; the deploy of a lab fleet pinned to one of them downloads it from the lab mirror). Same
#: build as the default: ``go install`` of the module, its ``h1:`` pinned here. 0.26.1 and older set their
#: version through ``-X`` of the variable named by ``version_var`` (0.28+ read it from the build info).
#: ``sumdb_missing``: dependencies (``path@version``, space-separated) the checksum database does not answer
#: for; each is verified against the ``go.sum`` inside the pinned module (covered by its ``h1:``) instead.
HEADSCALE_LAB_BUILDS: dict[str, dict[str, str]] = {
    "0.23.0": {
        "version": "0.23.0",
        "h1": "h1:32FqxkHYEXosSCwlkej7q6968r2qMM5HHHU5M80OQsg=",
        "toolchain": "local",
        "version_var": "github.com/juanfont/headscale/cmd/headscale/cli.Version",
        "sumdb_missing": "",
    },
    "0.26.1": {
        "version": "0.26.1",
        "h1": "h1:WTvvxKtN94jut3Rk8hJPwjK2MdzcFPtrcrMHqlUJGa4=",
        "toolchain": "local",
        "version_var": "github.com/juanfont/headscale/hscontrol/types.Version",
        "sumdb_missing": "",
    },
    "0.28.0": {
        "version": "0.28.0",
        "h1": "h1:1lz1wj1NhKH2Y+U6URaVochCMrBsb+IUNDjQdwKn37Q=",
        "toolchain": "local",
        "version_var": "",
        # The proxy serves this dependency, but its checksum-database lookup answers 404 (measured
        # 2026-12-02): the script checks it against the go.sum inside the pinned module instead.
        "sumdb_missing": "github.com/tailscale/tailsql@v0.0.0-20260105194658-001575c3ca09",
    },
}


def go_build_pin(program: str, version: str = "") -> dict[str, str]:
    """The build pin of ``program`` (see :data:`GO_BUILDS`), or of Headscale ``version`` built for the lab
    (:data:`HEADSCALE_LAB_BUILDS`); read by ``tools/build-go-programs.sh``."""
    if program == "headscale" and version and version != GO_BUILDS["headscale"]["version"]:
        return HEADSCALE_LAB_BUILDS[version]
    return GO_BUILDS[program]


def headscale_lab_versions() -> list[str]:
    """Every Headscale release the lab starts, oldest first (what ``make go-programs`` builds)."""
    return sorted(HEADSCALE_LAB_RELEASES.values(), key=version_tuple)


def headscale_version_problem(version: str) -> str | None:
    """Why llmfleet does not deploy Headscale ``version`` (``None`` when its minor was run in the lab)."""
    minor = version_tuple(version)[:2]
    if minor in HEADSCALE_LAB_RELEASES:
        return None
    minors = ", ".join(f"{a}.{b}" for a, b in sorted(HEADSCALE_LAB_RELEASES))
    proven = ", ".join(headscale_lab_versions())
    return (
        f"Headscale {version} is not supported: llmfleet renders configuration, policy and pre-auth-key commands only for "
        f"the Headscale minors it starts in its lab ({minors}; run there: {proven}); {'.'.join(map(str, minor))} was never "
        f"run, so what it needs is not known for sure. Pin a supported release, e.g. {DEFAULT_HEADSCALE_VERSION}"
    )


# ---------------------------------------------------------------- grammar
VERSION_RE = re.compile(r"\A([0-9]+)\.([0-9]+)\.([0-9]+)\Z")
FLOATING = frozenset({"latest", "main-latest", "main-stable", "stable", "main", "nightly", "dev"})
Program = Literal["litellm", "ollama", "headscale", "tailscale", "llamacpp", "redis", "postgres"]
Severity = Literal["compromised", "critical", "high", "medium", "low"]


def version_tuple(version: str) -> tuple[int, ...]:
    """``0.23.0`` → ``(0, 23, 0)``; ``b4589`` → ``(4589,)``; ``16.4`` → ``(16, 4)``. Non-numbers count as 0."""
    text = version.strip().lstrip("vb")
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.\-+]", text) if p != "")


# ---------------------------------------------------------------- advisories
@dataclass(frozen=True)
class Advisory:
    """One known advisory of one program, as written in ``advisories.toml``."""

    id: str
    program: str
    summary: str
    severity: Severity
    source: str
    verified: str
    ranges: tuple[tuple[str, str], ...] = ()
    versions: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    condition: str = ""
    cvss: float | None = None

    def affects(self, version: str) -> bool:
        """True when ``version`` is listed or falls in one of the ``[introduced, fixed)`` ranges."""
        if version in self.versions:
            return True
        key = version_tuple(version)
        return any(version_tuple(introduced) <= key and (fixed == "" or key < version_tuple(fixed)) for introduced, fixed in self.ranges)

    @property
    def fixed_in(self) -> list[str]:
        """The fixed releases named by the ranges (empty when no fix is known)."""
        return [fixed for _, fixed in self.ranges if fixed]

    @property
    def refuses(self) -> bool:
        """The policy: compromised, or critical with no condition that llmfleet avoids."""
        return self.severity == "compromised" or (self.severity == "critical" and not self.condition)


@cache
def advisories() -> tuple[Advisory, ...]:
    """Every advisory in the table (read once)."""
    text = resources.files("llmfleet").joinpath("data/advisories.toml").read_text(encoding="utf-8")
    rows = tomllib.loads(text)["advisory"]
    return tuple(
        Advisory(
            id=row["id"],
            program=row["program"],
            summary=row["summary"],
            severity=row["severity"],
            source=row["source"],
            verified=row["verified"],
            ranges=tuple((str(a), str(b)) for a, b in row.get("ranges", ())),
            versions=frozenset(row.get("versions", ())),
            aliases=tuple(row.get("aliases", ())),
            condition=row.get("condition", ""),
            cvss=row.get("cvss"),
        )
        for row in rows
    )


@dataclass(frozen=True)
class Finding:
    """An advisory that matches one pinned version, with the policy's verdict."""

    program: str
    version: str
    advisory: Advisory
    refused: bool

    def message(self) -> str:
        """One line: what it is, where it comes from, and what to pin instead."""
        a = self.advisory
        ids = ", ".join((a.id, *a.aliases))
        score = f", CVSS {a.cvss}" if a.cvss is not None else ""
        fix = next((f for f in a.fixed_in if version_tuple(f) > version_tuple(self.version)), None)
        hint = f"; pin {fix} or later" if fix else "; no fixed release is known"
        cond = f" (applies only when {a.condition})" if a.condition else ""
        return f"{_NAMES.get(self.program, self.program)} {self.version}: {a.severity} {ids}{score}: {a.summary}{cond}{hint} [{a.source}]"


_NAMES = {"litellm": "LiteLLM", "ollama": "Ollama", "headscale": "Headscale", "tailscale": "Tailscale", "llamacpp": "llama.cpp"}


def verdict(program: str, version: str) -> list[Finding]:
    """Every advisory that matches ``program`` at ``version``, refusals first."""
    found = [Finding(program, version, a, a.refuses) for a in advisories() if a.program == program and a.affects(version)]
    return sorted(found, key=lambda f: (not f.refused, f.advisory.id))


def image_version(image: str) -> str | None:
    """The release in an image tag (``redis:7.4.6`` → ``7.4.6``, ``postgres:16.4-alpine`` → ``16.4``)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    match = re.match(r"v?(\d+(?:\.\d+)*)", last.rsplit(":", 1)[1])
    return match[1] if match else None


@dataclass(frozen=True)
class Pin:
    """One pinned program of an inventory and where the pin is written."""

    path: tuple[str | int, ...]
    program: str
    version: str
    findings: list[Finding] = field(default_factory=list)


# ---------------------------------------------------------------- LiteLLM policy (used at load time)
def litellm_version_problem(version: str) -> str | None:
    """Why ``version`` may not be deployed, or ``None`` when it is acceptable."""
    if version.lower() in FLOATING:
        return f"'{version}' is not a pinned release; pin an exact version such as {DEFAULT_LITELLM_VERSION}"
    if not VERSION_RE.match(version):
        return f"'{version}' is not an exact release (x.y.z), e.g. {DEFAULT_LITELLM_VERSION}"
    refused = [f.advisory for f in verdict("litellm", version) if f.refused]
    if not refused:
        return None
    if any(a.severity == "compromised" for a in refused):
        return f"LiteLLM {version} was a compromised release (malicious package on PyPI); pin {DEFAULT_LITELLM_VERSION}"
    fixes = [fix for a in refused for fix in a.fixed_in if version_tuple(fix) > version_tuple(version)]
    floor = max(fixes, key=version_tuple) if fixes else DEFAULT_LITELLM_VERSION
    listed = "; ".join(f"{a.summary} ({', '.join((a.id, *a.aliases))})" for a in refused)
    return f"LiteLLM {version} has critical advisories: {listed}; pin {floor} or later (e.g. {DEFAULT_LITELLM_VERSION})"


#: Installed beside LiteLLM in a ``systemd-venv`` runtime: without it a request with no key gets
#: HTTP 500 instead of 401 (LiteLLM's auth error path imports prisma; the official image ships it).
PRISMA_REQUIREMENT = "prisma==0.15.0"
#: Python packages a LiteLLM callback needs that ``litellm[proxy]`` does not bring (the official
#: image has them). Measured with 1.106.2: ``callbacks: [prometheus]`` without ``prometheus_client``
#: makes the proxy exit at startup (ModuleNotFoundError).
CALLBACK_REQUIREMENTS: dict[str, str] = {"prometheus": "prometheus_client==0.26.0"}


def litellm_venv_requirements(litellm_version: str, callbacks: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What pip installs for a ``systemd-venv`` gateway: LiteLLM [proxy], prisma, and each callback's package."""
    extra = sorted({CALLBACK_REQUIREMENTS[c] for c in callbacks if c in CALLBACK_REQUIREMENTS})
    return [f"litellm[proxy]=={litellm_version}", PRISMA_REQUIREMENT, *extra]
