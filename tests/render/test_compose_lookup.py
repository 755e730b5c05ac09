"""Where validate finds Docker Compose v2: PATH (`docker compose`, then `docker-compose` 2.x), the env var, the cache.

The lookup order is tested with small executables that answer ``version --short`` like the real
ones do (``2.40.3``; Compose v1 answers ``1.29.2``); the last test finds the real binary that
``make compose-bin`` put in the cache and has it check a rendered file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fleetlab.programs import ProgramMissing, compose_bin
from llmfleet.programs import ComposeMissing, compose_command


def executable(path: Path, version: str, *, plugin: bool = False) -> Path:
    """A program that prints ``version`` for ``[compose] version --short`` and fails otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = '"$1" = compose -a "$2" = version' if plugin else '"$1" = version'
    path.write_text(f"#!/bin/sh\nif [ {args} ]; then echo {version}; exit 0; fi\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": f"{tmp_path / 'bin1'}:{tmp_path / 'bin2'}:/usr/bin:/bin", "LLMFLEET_CACHE": str(tmp_path / "cache")}


def test_docker_compose_plugin_on_path_comes_first(tmp_path: Path, env: dict[str, str]) -> None:
    docker = executable(tmp_path / "bin2" / "docker", "2.39.1", plugin=True)
    executable(tmp_path / "bin1" / "docker-compose", "2.40.3")
    executable(tmp_path / "cache" / "bin" / "docker-compose-2.40.3", "2.40.3")
    assert compose_command({**env, "LLMFLEET_COMPOSE_BIN": str(tmp_path / "cache" / "bin" / "docker-compose-2.40.3")}) == [
        str(docker),
        "compose",
    ]


def test_a_docker_without_compose_and_a_v1_docker_compose_are_passed_over(tmp_path: Path, env: dict[str, str]) -> None:
    executable(tmp_path / "bin1" / "docker", "26.0.0")  # `docker compose version` fails: no plugin
    executable(tmp_path / "bin1" / "docker-compose", "1.29.2")
    standalone = executable(tmp_path / "bin2" / "docker-compose", "v2.40.3")
    assert compose_command(env) == [str(standalone)]
    (tmp_path / "bin2" / "docker-compose").unlink()
    override = executable(tmp_path / "elsewhere" / "compose", "2.40.3")
    assert compose_command({**env, "LLMFLEET_COMPOSE_BIN": str(override)}) == [str(override)]
    older = executable(tmp_path / "cache" / "bin" / "docker-compose-2.9.0", "2.9.0")
    newer = executable(tmp_path / "cache" / "bin" / "docker-compose-2.40.3", "2.40.3")
    assert compose_command(env) == [str(newer)]
    newer.unlink()
    assert compose_command(env) == [str(older)]


def test_none_found_says_where_it_looked_and_how_to_get_one(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ComposeMissing) as caught:
        compose_command({**env, "LLMFLEET_COMPOSE_BIN": str(tmp_path / "missing")})
    message = str(caught.value)
    assert f"LLMFLEET_COMPOSE_BIN={tmp_path / 'missing'} (not a runnable Docker Compose v2)" in message
    assert "install Docker Compose v2" in message and "https://docs.docker.com/compose/install/" in message
    assert "make " not in message


@pytest.mark.real
def test_the_cached_real_compose_is_found_and_checks_a_rendered_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        real = compose_bin()
    except ProgramMissing as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("LLMFLEET_CACHE", str(real.parents[1]))
    monkeypatch.delenv("LLMFLEET_COMPOSE_BIN", raising=False)
    if any(os.access(Path(d, "docker-compose"), os.X_OK) for d in ("/usr/bin", "/bin")):
        pytest.skip("a docker-compose in /usr/bin would be found first")
    assert compose_command() == [str(real)]
    from llmfleet.inventory.loader import load_inventory
    from llmfleet.render import render_fleet, validate_rendered

    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventories" / "pip.yml")
    problems = validate_rendered(render_fleet(inv), inv)
    assert not any("docker compose" in p.message for p in problems), [str(p) for p in problems]
