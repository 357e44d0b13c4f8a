"""``validate`` and ``test`` for machines: JSON, JUnit XML and GitHub annotations."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from o2g_flows.cli import main

GOOD = """\
flow: good
on: OnCallCreated
do: [hangup]
tests:
  - name: hangs up
    events: [{OnCallCreated: {callRef: c1}}]
    expect: [{hangup: {call: c1}}]
  - name: expects nothing, wrongly
    events: [{OnCallCreated: {callRef: c2}}]
    expect: []
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text("flow: bad\non: OnCallCreatd\ndo: [hangup]\n")
    return tmp_path


def test_validate_as_json(folder, capsys):
    assert main(["validate", str(folder), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == ["good"] and report["files"] == 2
    (error,) = report["errors"]
    assert (error["file"], error["line"], error["column"]) == (str(folder / "bad.yaml"), 2, 5)
    assert error["message"].startswith("unknown event 'OnCallCreatd'")


def test_validate_as_github_annotations(folder, capsys):
    assert main(["validate", str(folder), "--format", "github"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"::error file={folder / 'bad.yaml'},line=2,col=5::unknown event")


def test_test_as_junit(folder, capsys):
    assert main(["test", str(folder), "--format", "junit"]) == 1
    suite = ElementTree.fromstring(capsys.readouterr().out)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["hangs up"].find("failure") is None
    failure = cases["expects nothing, wrongly"].find("failure")
    assert failure is not None and "actions differ" in failure.text
    assert cases["expects nothing, wrongly"].get("line") == "8"


def test_test_as_json_and_github(folder, capsys):
    assert main(["test", str(folder), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["passed"], report["failed"]) == (1, 1)
    assert [test["name"] for test in report["tests"] if not test["passed"]] == [
        "expects nothing, wrongly"
    ]
    assert main(["test", str(folder), "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if "wrongly failed" in line]
    assert len(failed) == 1 and "%0A" in failed[0]  # a multi-line problem stays one line


def test_schema_includes_the_actions_of_the_plugins_given(capsys):
    plugins = str(Path(__file__).parents[2] / "plugins")
    assert main(["schema"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert main(["schema", "--plugins", plugins]) == 0
    with_plugins = json.loads(capsys.readouterr().out)
    assert "notify" not in json.dumps(bare) and "notify" in json.dumps(with_plugins)
    shipped = json.loads((Path(__file__).parents[2] / "docs" / "flow.schema.json").read_text())
    assert bare == shipped  # docs/flow.schema.json is what the command prints
