"""No inventory string changes the structure of a rendered file.

Every string leaf of every example fleet is replaced by a value that breaks each format it could reach
(quotes, ``$`` interpolation, ``%`` specifiers, backslashes, ``#`` comments, YAML flow characters).
A value the model refuses is fine; every value it accepts is rendered, and each consumer's parser
(YAML, HuJSON, the systemd unit grammar, line files; Docker Compose's own ``config`` when provisioned)
must read the same structure as with the plain values, and the value itself back unchanged.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from llmfleet.inventory import InventoryError, load
from llmfleet.inventory.yamlsource import load_plain_yaml, read_yaml
from llmfleet.render import render_fleet
from tests.render.modelfile_parser import parse_modelfile

REPO = Path(__file__).resolve().parents[2]
FLEETS = sorted(p for p in (REPO / "inventories").glob("*.yml") if p.name.count(".") == 1)
HOSTILE = "v\"'$HOME ${X} %h %% \\ #: {a: [b]} & *c !d `id` ; x"
#: For systemd: a specifier systemd does not know (``%Q``) makes it complain unless every ``%`` is escaped.
HOSTILE_SYSTEMD = HOSTILE + " %Q %"


def _leaves(data: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(data, list):
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, (*path, i))]
    return [path] if isinstance(data, str) else []


def _set(data: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _loads(data: Any, tmp: Path) -> bool:
    from tests.inventory.conftest import write_yaml

    try:
        load(write_yaml(tmp / "fleet.yml", data))
        return True
    except InventoryError:
        return False


def _hostile(fleet: Path, tmp: Path, value: str = HOSTILE) -> tuple[Any, Any, list[tuple]]:
    """The plain data, and the data with every accepted hostile substitution (greedily combined)."""
    plain, _ = read_yaml(fleet)
    accepted: list[tuple] = []
    hostile = copy.deepcopy(plain)
    for path in _leaves(plain):
        trial = copy.deepcopy(hostile)
        _set(trial, path, value)
        if _loads(trial, tmp):
            hostile, accepted = trial, [*accepted, path]
    return plain, hostile, accepted


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _unit_shape(text: str) -> list[Any]:
    shape: list[Any] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            shape.append(line)
            continue
        key, _, value = line.partition("=")
        shape.append((key, len(shlex.split(value.replace("%%", "%"))) if key.startswith("Exec") else None))
    return shape


def _structure(relpath: str, content: str) -> tuple[Any, list[str]]:
    """The structure a consumer reads from a rendered file, and the strings in it."""
    name = relpath.rsplit("/", 1)[-1]
    if name.endswith((".yaml", ".yml")):
        data = load_plain_yaml(content, relpath)
        return _shape(data), _strings(data)
    if name.endswith(".hujson"):
        data = json.loads("\n".join(line for line in content.splitlines() if not line.lstrip().startswith("//")))
        return _shape(data), _strings(data)
    if name.endswith((".service", ".conf")):
        return _unit_shape(content), []
    if name.endswith(".Modelfile"):  # as Ollama's own parser reads it (a port: tests/render/modelfile_parser.py)
        commands = parse_modelfile(content)
        return [c for c, _ in commands], [v for _, v in commands]
    lines = [line for line in content.splitlines() if line and not line.startswith("#")]
    return len(lines), lines


@pytest.mark.parametrize("fleet", FLEETS, ids=[f.stem for f in FLEETS])
def test_hostile_strings_never_change_a_rendered_structure(fleet: Path, tmp_path: Path) -> None:
    from tests.inventory.conftest import write_yaml

    plain, hostile, accepted = _hostile(fleet, tmp_path)
    plain_files = {f.relpath: f.content for f in render_fleet(load(write_yaml(tmp_path / "p.yml", plain)).inventory)}
    hostile_files = {f.relpath: f.content for f in render_fleet(load(write_yaml(tmp_path / "h.yml", hostile)).inventory)}
    assert set(plain_files) == set(hostile_files)
    seen = 0
    for rel, content in hostile_files.items():
        shape, strings = _structure(rel, content)
        assert shape == _structure(rel, plain_files[rel])[0], f"{fleet.name}: {rel} changed structure with {accepted}"
        seen += sum(s.endswith(HOSTILE) for s in strings)  # a model id reads back as <prefix>/<id>
    if any(p[0] in ("models", "gateway") for p in accepted):
        assert seen, f"{fleet.name}: an accepted hostile value must read back unchanged somewhere ({accepted})"


@pytest.mark.real
def test_compose_reads_hostile_values_literally(tmp_path: Path) -> None:
    from fleetlab.programs import ProgramMissing, compose_bin
    from tests.inventory.conftest import write_yaml

    try:
        binary = compose_bin()
    except ProgramMissing as exc:
        pytest.skip(str(exc))
    checked = 0
    for fleet in FLEETS:
        _, hostile, _ = _hostile(fleet, tmp_path)
        for f in render_fleet(load(write_yaml(tmp_path / "h.yml", hostile)).inventory):
            if not f.relpath.endswith("docker-compose.yml"):
                continue
            work = tmp_path / fleet.stem / f.host
            work.mkdir(parents=True, exist_ok=True)
            (work / "docker-compose.yml").write_text(f.content)
            (work / "config.yaml").write_text("{}\n")
            (work / ".env").write_text("")
            env = {**os.environ, "POSTGRES_PASSWORD": "p", "REDIS_PASSWORD": "r", "LITELLM_MASTER_KEY": "m", "X": "INTERPOLATED"}
            run = subprocess.run([str(binary), "config", "--format", "json"], cwd=work, capture_output=True, text=True, timeout=60, env=env)
            assert run.returncode == 0, run.stderr
            config = json.loads(run.stdout)
            assert "INTERPOLATED" not in run.stdout, "a value was interpolated by Compose"
            expected = load_plain_yaml(f.content, f.relpath)["services"]["litellm"]
            assert config["services"]["litellm"]["image"] == expected["image"].replace("$$", "$")
            checked += 1
    assert checked >= 1


@pytest.mark.real
def test_systemd_reads_hostile_units_as_cleanly_as_plain_ones(tmp_path: Path) -> None:
    """The real ``systemd-analyze verify`` (systemd 252) accepts every unit rendered with hostile values, silently."""
    import shutil

    from tests.inventory.conftest import write_yaml
    from tests.render.test_real import _fake_root

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found (apt-get install systemd)")
    verified = 0
    for fleet in FLEETS:
        _, hostile, accepted = _hostile(fleet, tmp_path, HOSTILE_SYSTEMD)
        by_host: dict[str, list[tuple[str, str]]] = {}
        for f in render_fleet(load(write_yaml(tmp_path / "h.yml", hostile)).inventory):
            if f.dest.startswith("/etc/systemd/system/"):
                assert f.content.count("%Q") == f.content.count("%%Q"), f"{fleet.name}: {f.relpath} has an unescaped specifier"
                by_host.setdefault(f.host, []).append((f.dest, f.content))
        for host, units in by_host.items():
            root = tmp_path / "root" / fleet.stem / host
            names = _fake_root(root, units)
            run = subprocess.run([analyze, "verify", "--man=no", f"--root={root}", *names], capture_output=True, text=True, timeout=120)
            output = (run.stdout + run.stderr).strip()
            assert run.returncode == 0 and not output, f"{fleet.name}/{host} with {accepted}: {output}"
            verified += len(names)
    assert verified >= len(FLEETS), f"only {verified} units verified"


@pytest.mark.real
def test_systemd_quoting_filters_survive_the_real_parser(tmp_path: Path) -> None:
    """Arguments and environment values quoted by the render filters: real systemd reads them without complaint."""
    import shutil

    from llmfleet.render.engine import systemd_arg, systemd_env
    from tests.render.test_real import _fake_root

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found (apt-get install systemd)")
    values = [HOSTILE_SYSTEMD, "%Q", "100%", 'a "b" c', "back\\slash", "$VAR ${X}", "-leading dash", "semi;colon"]
    lines = [f"Environment={systemd_env(f'V{i}', v)}" for i, v in enumerate(values)]
    unit = "\n".join(["[Unit]", "Description=quoting", "[Service]", *lines, "ExecStart=/usr/bin/x " + " ".join(map(systemd_arg, values))])
    names = _fake_root(tmp_path, [("/etc/systemd/system/quoting.service", unit + "\n")])
    run = subprocess.run([analyze, "verify", "--man=no", f"--root={tmp_path}", *names], capture_output=True, text=True, timeout=120)
    output = (run.stdout + run.stderr).strip()
    assert run.returncode == 0 and not output, output
