"""The shipped wheel, built from a clean clone and installed into a fresh venv, does the whole job on its own.

What is tested is the repository's committed state (``git clone`` of it), as CI sees it: the wheel
is built with pip (hatchling through build isolation), checked for what it must carry (templates,
the remote helpers, the report schema) and must not (the lab), and installed with the project's
constraints into a new venv. From that venv alone, run outside any checkout, ``llmfleet`` validates
every example fleet and renders each byte-identical to its golden tree; with booted lab hosts
(``lab``), ``llmfleet deploy`` converges the lab fleet, a second run changes nothing, and the
installed ``llmfleet health`` passes against the deployed gateway.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.real
REPO = Path(__file__).resolve().parents[2]
MASTER_KEY = f"sk-lab-{secrets.token_hex(20)}"


def run(cmd: list[str], *, timeout: float = 900, **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@dataclass(frozen=True)
class Installed:
    """A clean clone, the wheel built from it, and a fresh venv with only that wheel (and its dependencies)."""

    clone: Path
    wheel: Path
    venv: Path
    elsewhere: Path  # a working directory outside any checkout

    @property
    def llmfleet(self) -> str:
        return str(self.venv / "bin" / "llmfleet")

    def fleets(self) -> list[Path]:
        """Every example inventory (overlays like ``lab.artifacts.yml`` excluded)."""
        return sorted(p for p in (self.clone / "inventories").glob("*.yml") if "." not in p.stem)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    clone, dist, venv, elsewhere = root / "src", root / "dist", root / "venv", root / "run"
    elsewhere.mkdir()
    run(["git", "clone", "-q", str(REPO), str(clone)])
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(clone)], env=env, cwd=elsewhere)
    (wheel,) = dist.glob("llmfleet-*.whl")
    run([sys.executable, "-m", "venv", str(venv)], env=env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(clone / "constraints.txt"), str(wheel)], env=env)
    yield Installed(clone, wheel, venv, elsewhere)


def test_the_wheel_carries_the_package_data_and_not_the_lab(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"llmfleet", installed.wheel.name.split("-py3")[0] + ".dist-info"}, tops  # no fleetlab, checks, deploy
    templates = sorted(p.relative_to(installed.clone / "templates").as_posix() for p in (installed.clone / "templates").rglob("*.j2"))
    assert templates and all(f"llmfleet/_templates/{t}" in names for t in templates)
    helpers = sorted(p.name for p in (installed.clone / "llmfleet" / "deploy" / "remote").glob("*.py"))
    assert {"artifact.py", "gateway.py", "wait.py"} <= set(helpers)
    assert all(f"llmfleet/deploy/remote/{h}" in names for h in helpers)
    assert "llmfleet/checks/report.schema.json" in names
    assert "llmfleet/data/advisories.toml" in names  # the advisory table `validate` and `audit` read
    assert "llmfleet/inventory/litellm_keys/1.106.2.json" in names  # the generated LiteLLM key table rules and import read
    assert "llmfleet/checks/testinfra/test_hosts.py" in names


def test_the_installed_package_is_the_one_that_runs(installed: Installed) -> None:
    python = str(installed.venv / "bin" / "python")
    where = run([python, "-c", "import llmfleet; print(llmfleet.__file__)"], cwd=installed.elsewhere).stdout.strip()
    assert where.startswith(str(installed.venv)), where
    lab = subprocess.run([python, "-c", "import fleetlab"], capture_output=True, text=True, cwd=installed.elsewhere)
    assert lab.returncode != 0 and "No module named 'fleetlab'" in lab.stderr


def test_the_installed_llmfleet_validates_and_renders_every_example_fleet(installed: Installed) -> None:
    fleets = installed.fleets()
    assert len(fleets) >= 7
    for inventory in fleets:
        valid = run([installed.llmfleet, "validate", str(inventory)], cwd=installed.elsewhere)
        assert f"fleet {inventory.stem} is valid" in valid.stdout
        out = installed.elsewhere / "out" / inventory.stem
        run([installed.llmfleet, "render", str(inventory), "--out", str(out)], cwd=installed.elsewhere)
        golden = installed.clone / "tests" / "golden" / inventory.stem
        same = run([installed.llmfleet, "render", str(inventory), "--check", str(golden)], cwd=installed.elsewhere)
        assert "is up to date" in same.stdout
        assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == sorted(
            p.relative_to(golden) for p in golden.rglob("*") if p.is_file()
        )


@pytest.mark.lab
def test_the_installed_llmfleet_deploys_the_lab_fleet(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> None:
    from fleetlab import hosts as labhosts
    from fleetlab.deployrun import run_site

    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    inventory = installed.clone / "inventories" / "lab.yml"
    with labhosts.prepared_lab(inventory, tmp_path_factory.mktemp("wheellab")) as fleet:
        assert fleet.overlay is not None
        deploy = [installed.llmfleet, "deploy", str(inventory), "--overlay", str(fleet.overlay), "-y", "--json"]
        first = run_site(fleet, MASTER_KEY, command=deploy)  # raises if the key was printed
        assert first.rc == 0 and not first.errors(), first.tail()
        assert first.changed(), "a first run on fresh hosts changes things"
        second = run_site(fleet, MASTER_KEY, command=deploy)
        assert second.rc == 0 and second.changed() == [] and second.errors() == [], second.tail()
        env = {**os.environ, "LITELLM_MASTER_KEY": MASTER_KEY}
        health = subprocess.run(
            [installed.llmfleet, "health", str(inventory), "--overlay", str(fleet.overlay), "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            cwd=installed.elsewhere,
            timeout=600,
        )
        assert health.returncode == 0, health.stdout[-3000:] + health.stderr[-3000:]
        assert MASTER_KEY not in health.stdout + health.stderr
