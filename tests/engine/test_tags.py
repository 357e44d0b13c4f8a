"""``!env``, ``!secret`` and ``!include`` in flow files, errors located where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from o2g_flows.engine import load_flows

FLOW = """\
flow: page
vars:
  url: !env PAGER_URL
  token: !secret pager_token
on: OnCallCreated
do: !include _parts/actions.yaml
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAGER_URL", "http://127.0.0.1:9/page")
    (tmp_path / "secrets.yaml").write_text("pager_token: s3cret\n")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "page.yaml").write_text(FLOW)
    (tmp_path / "flows" / "_parts").mkdir()
    (tmp_path / "flows" / "_parts" / "actions.yaml").write_text(
        '- http: {url: "${vars.url}", json: {token: "${vars.token}"}}\n'
    )
    return tmp_path


def test_env_secret_and_include_give_their_values(folder: Path):
    result = load_flows([folder])
    assert result.ok, result.report()
    (flow,) = result.flows  # secrets.yaml and _parts/ are not flows
    assert flow.vars == {"url": "http://127.0.0.1:9/page", "token": "s3cret"}
    (handler,) = flow.start
    assert [step.name for step in handler.do] == ["http"]


def test_their_errors_are_located(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PAGER_URL")
    (folder / "secrets.yaml").write_text("other: x\n")
    part = folder / "flows" / "_parts" / "actions.yaml"
    part.write_text("- hangup\n- nosuch: {}\n")
    flow = folder / "flows" / "page.yaml"
    assert [str(e) for e in load_flows([folder]).errors] == [
        f"{flow}:3:8: the environment variable PAGER_URL is not set (set it, or give a "
        "default: !env PAGER_URL:VALUE)",
        f"{flow}:4:10: !secret pager_token: no such entry in {folder / 'secrets.yaml'}",
        f"{part}:2:3: unknown action 'nosuch' (if a plugin provides it, load its folder with "
        "--plugins DIR)",
    ]


def test_an_env_default_and_include_cycles(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PAGER_URL")
    flow = folder / "flows" / "page.yaml"
    flow.write_text(FLOW.replace("!env PAGER_URL", "!env PAGER_URL:http://127.0.0.1:9/x"))
    part = folder / "flows" / "_parts" / "actions.yaml"
    part.write_text("- !include actions.yaml\n")
    assert [str(e) for e in load_flows([folder]).errors] == [
        f"{part}:1:3: !include actions.yaml: includes itself (a cycle)",
        f"{part}:1:3: an action is a mapping like answer: {{...}}, not nothing",
    ]
