"""A wheelhouse for the gateway's systemd-venv runtime: LiteLLM [proxy] + prisma, every wheel pinned.

Built once with ``pip wheel`` into ``${LLMFLEET_CACHE}/lab-mirror/wheels-<litellm>-<key>/`` (the
versions are constrained to the local proxy venv's ``freeze.txt`` when there is one, so the lab
gateway runs exactly what the real-program tests run). It holds:

* every wheel of the dependency closure (sdists are built into wheels here, so the target host
  needs no compiler);
* ``requirements-litellm.txt``: ``name==version --hash=sha256:...`` for every wheel, so a host
  installs air-gapped and hash-checked::

      python3 -m venv /opt/llmfleet/litellm-venv
      /opt/llmfleet/litellm-venv/bin/pip install --no-index --require-hashes --trusted-host 10.231.0.1 \\
          --find-links http://10.231.0.1:8099/wheels/ -r http://10.231.0.1:8099/wheels/requirements-litellm.txt

* ``SHA256SUMS`` over all of the above.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fleetlab.cachebuild import built_once
from fleetlab.programs import cache_dir
from llmfleet.versions import litellm_venv_requirements

__all__ = ["WheelhouseError", "ensure_wheelhouse"]

REQUIREMENTS = "requirements-litellm.txt"
_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


class WheelhouseError(RuntimeError):
    """pip could not build the wheelhouse; the message has its output."""


def _pip(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise WheelhouseError(f"pip wheel failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_TARGET_ENV_PY = """
import json, os, platform, sys
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": platform.python_version(),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""


def target_environment(rootfs: Path) -> dict[str, str]:
    """PEP 508 marker environment of the python3 inside ``rootfs`` (run with chroot)."""
    out = subprocess.run(["chroot", str(rootfs), "/usr/bin/python3", "-c", _TARGET_ENV_PY], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _metadata(wheel: Path) -> tuple[str, list[Requirement]]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        text = zf.read(name).decode("utf-8", "replace")
    header = text.split("\n\n", 1)[0]
    dist = next(line.split(":", 1)[1].strip() for line in header.splitlines() if line.startswith("Name:"))
    reqs = [Requirement(line.split(":", 1)[1].strip()) for line in header.splitlines() if line.startswith("Requires-Dist:")]
    return canonicalize_name(dist), reqs


def closure(wheels: dict[str, Path], roots: Sequence[str], env: dict[str, str]) -> tuple[set[str], set[str]]:
    """Walk the dependencies of ``roots`` under marker environment ``env``.

    Returns:
        (names reached that are in ``wheels``, requirement strings of missing distributions)
    """
    meta = {name: _metadata(path)[1] for name, path in wheels.items()}
    reached: set[str] = set()
    missing: set[str] = set()
    seen: set[tuple[str, str]] = set()
    queue = [Requirement(r) for r in roots]
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        if name not in wheels:
            missing.add(f"{req.name}{req.specifier}")
            continue
        reached.add(name)
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for dep in meta[name]:
                try:
                    wanted = dep.marker is None or dep.marker.evaluate({**env, "extra": extra})
                except UndefinedEnvironmentName:
                    wanted = False
                if wanted:
                    queue.append(dep)
    return reached, missing


def _wheel_names(directory: Path) -> dict[str, Path]:
    found = {}
    for wheel in directory.glob("*.whl"):
        m = _WHEEL_RE.match(wheel.name)
        if m:
            found[canonicalize_name(m["name"])] = wheel
    return found


def ensure_wheelhouse(litellm_version: str, rootfs: Path, *, callbacks: tuple[str, ...] = (), log=print) -> Path:
    """Return the wheelhouse directory for ``litellm_version`` (+ the packages of ``callbacks``), building it first if needed (~10-60 s).

    ``rootfs`` is the lab hosts' image: its python3 decides environment markers (Debian's 3.11.2
    needs ``async-timeout``, a 3.11.7 build machine does not), so the closure is the target's.
    """
    freeze = cache_dir() / f"litellm-{litellm_version}" / "freeze.txt"
    constraints = freeze.read_text() if freeze.is_file() else ""
    env = target_environment(rootfs)
    roots = litellm_venv_requirements(litellm_version, callbacks)  # what deploy/gateway.py installs
    key_text = f"{json.dumps(roots)}\n{json.dumps(env, sort_keys=True)}\n{constraints}"
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    home = cache_dir() / "lab-mirror" / f"wheels-{litellm_version}-{key}"

    def build(tmp: Path) -> None:
        argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(tmp)]
        if constraints:
            lines = [ln for ln in constraints.splitlines() if ln and not ln.startswith(("-e", "#")) and "@" not in ln]
            (tmp.parent / f"{home.name}.constraints.txt").write_text("\n".join(lines) + "\n")
            argv += ["--constraint", str(tmp.parent / f"{home.name}.constraints.txt")]
        log(f"[lab] building the LiteLLM {litellm_version} wheelhouse (pip wheel) ...")
        _pip(argv + roots)
        for _round in range(5):  # add what the target's markers need and this machine's did not
            reached, missing = closure(_wheel_names(tmp), roots, env)
            if not missing:
                break
            log(f"[lab] wheelhouse: adding {' '.join(sorted(missing))} for the target's Python {env['python_full_version']}")
            _pip([*argv, "--no-deps", *sorted(missing)])
        else:
            raise WheelhouseError(f"wheelhouse: dependencies still missing: {sorted(missing)}")
        for name, wheel in _wheel_names(tmp).items():
            if name not in reached:
                wheel.unlink()  # only needed on this machine's Python, not on the target's
        reqs, sums = [], []
        for wheel in sorted(tmp.glob("*.whl")):
            m = _WHEEL_RE.match(wheel.name)
            if not m:
                raise WheelhouseError(f"unexpected wheel file name {wheel.name}")
            digest = _sha256(wheel)
            reqs.append(f"{m['name'].replace('_', '-')}=={m['version']} --hash=sha256:{digest}")
            sums.append(f"{digest}  {wheel.name}")
        header = f"# {' + '.join(roots)}: the whole closure, hash-pinned (generated)\n"
        (tmp / REQUIREMENTS).write_text(header + "\n".join(reqs) + "\n")
        sums.append(f"{_sha256(tmp / REQUIREMENTS)}  {REQUIREMENTS}")
        (tmp / "SHA256SUMS").write_text("\n".join(sorted(sums, key=lambda s: s.split()[1])) + "\n")

    return built_once(home, build)
