"""The PBX file: the default one loads; a malformed one is refused with file:line:col."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from o2g_flows._yaml import SourceError
from o2g_flows.sim import Simulator, load_pbx_file, parse_pbx

USER = """users:
  - login: zoe
    password: "9"
    number: "4001"
"""


def test_default_pbx_has_what_the_readme_promises() -> None:
    config = load_pbx_file()
    logins = {user.login for user in config.users}
    desk_users = [u for u in config.users if u.voicemail and u.devices[0].type == "DESKPHONE"]
    assert len(desk_users) >= 10
    assert "reception" in logins
    assert config.hunting_groups and config.pilots
    assert len(config.processing_groups) == 2
    agents = [u for u in config.users if u.acd and u.acd.type == "AGENT"]
    assert len(agents) == 4
    assert any(u.acd and u.acd.type == "SUPERVISOR" for u in config.users)
    assert len(config.externals) >= 3
    assert [a.login for a in config.administrators] == ["admin"]


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (USER + "    colour: red\n", "pbx.yaml:5:5", "unknown key 'colour'"),
        (
            USER + "  - login: zoe\n    password: x\n    number: '4002'\n",
            "pbx.yaml:5:12",
            "duplicate login zoe",
        ),
        ("users:\n  - login: a\n    number: '1'\n", "pbx.yaml:2:5", "missing required key"),
        ("timing:\n  ring_timeout: -1\n", "pbx.yaml:2:17", "must be positive"),
        ("timing:\n  ring_timeout: soon\n", "pbx.yaml:2:17", "must be a number"),
        ("users: [1, 2]\n", "pbx.yaml:1:9", "must be a mapping"),
        ("users:\n  - login: a\n  password: b\n", "pbx.yaml:3:3", "expected <block end>"),
        (
            USER + "hunting_groups:\n  - {number: '4100', name: g, members: [ghost]}\n",
            "pbx.yaml:6:40",
            "unknown member ghost",
        ),
        (USER + "externals:\n  - {number: '4001'}\n", "pbx.yaml:6:14", "already used by user zoe"),
    ],
)
def test_malformed_pbx_file_names_file_line_and_reason(text: str, where: str, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_pbx(text, "pbx.yaml")
    assert str(caught.value).startswith(where), str(caught.value)
    assert reason in str(caught.value)


async def test_simulator_runs_a_given_pbx_file(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(USER + "administrators:\n  - {login: root, password: pw}\n")
    async with Simulator(path) as sim:
        assert set(sim.pbx.users) == {"zoe"}
        assert sim.pbx.resolve("4001").user.login == "zoe"


async def test_timing_overrides_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown timing field"):
        async with Simulator(timing={"ringing": 1}):
            pass


def test_sim_command_refuses_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("users:\n  - login: a\n    password: b\n    number: '1'\n    bad: 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "o2g_flows", "sim", "--pbx", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{path}:5:5: unknown key 'bad'" in result.stderr
