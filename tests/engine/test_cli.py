"""``o2g-flows validate | test | run`` as a user types them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from o2g_flows.cli import main

FLOWS = str(Path(__file__).parents[2] / "flows")
PLUGINS = str(Path(__file__).parents[2] / "plugins")


def test_validate_accepts_the_shipped_flows(capsys):
    assert main(["validate", FLOWS, "--plugins", PLUGINS]) == 0
    assert capsys.readouterr().out.strip().endswith("4 flow(s) valid, 0 error(s) in 4 file(s)")


def test_plugins_are_imported_only_from_the_folders_given(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "answer.yaml").write_text("flow: a\non: OnCallCreated\ndo: [answer]\n")
    (tmp_path / "plugins").mkdir()
    marker = tmp_path / "imported"
    (tmp_path / "plugins" / "spy.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef register(registry):\n    pass\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "flows"]) == 0
    assert not marker.exists()  # ./plugins is there, but nobody asked for it
    assert main(["validate", "flows", "--plugins", "plugins"]) == 0
    assert marker.exists()
    assert main(["validate", "flows", "--plugins", "nowhere"]) == 0
    assert "warning: plugin folder nowhere is not a folder" in capsys.readouterr().err


def test_validate_lists_every_error_and_fails(tmp_path: Path, capsys):
    (tmp_path / "bad.yaml").write_text("flow: bad\non: OnCallCreatd\ndo: [anwser]\n")
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{tmp_path / 'bad.yaml'}:2:5: unknown event 'OnCallCreatd' (did you mean OnCallCreated?)",
        f"{tmp_path / 'bad.yaml'}:3:6: unknown action 'anwser' (did you mean answer?)",
        "0 flow(s) valid, 2 error(s) in 1 file(s)",
    ]


def test_test_runs_the_flows_tests(capsys):
    assert main(["test", FLOWS]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "13 passed, 0 failed"
    assert all(line.startswith("PASS ") for line in out[:-1])


def test_test_fails_when_a_test_fails(tmp_path: Path, capsys):
    (tmp_path / "f.yaml").write_text("""\
flow: f
on: OnCallCreated
do: [hangup]
tests:
  - name: expects nothing
    events: [{OnCallCreated: {callRef: c1}}]
    expect: []
""")
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "+0s hangup call=c1" in out and "0 passed, 1 failed" in out


def test_test_replays_an_event_log(tmp_path: Path, capsys):
    log = tmp_path / "events.jsonl"
    log.write_text(
        json.dumps(
            {
                "eventName": "OnCallCreated",
                "loginName": "reception",
                "callRef": "c7",
                "legs": [{"deviceId": "2000", "state": "RINGING_INCOMING"}],
                "participants": [{"participantId": "+33140000001"}],
            }
        )
        + "\n"
    )
    assert main(["test", FLOWS, "--replay", str(log)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "0s answer call=c7 device=2000 user=reception  [reception-auto-answer c7]",
        "0s log message=answered VIP +33140000001 on 2000 level=info  [reception-auto-answer c7]",
        "1 events replayed, 2 actions would have been taken",
    ]


def test_run_on_the_embedded_simulator_shows_flows_at_work(tmp_path: Path, capsys):
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text('- {at: 0.2, call: {from: "+33140000001", to: "2000"}}\n')
    assert main(["run", FLOWS, "--traffic", str(traffic), "--duration", "1.5"]) == 0
    err = capsys.readouterr().err
    assert "embedded simulator on http://127.0.0.1:" in err
    assert "traffic  +33140000001 calls 2000" in err
    assert "event    OnCallCreated        reception call" in err
    assert "reception-auto-answer[" in err and "] answer (call=" in err
    assert "stopped: 1 execution(s) finished, 0 with errors" in err


def test_run_reports_a_missing_traffic_file(capsys):
    assert main(["run", FLOWS, "--traffic", "nope.yaml"]) == 1
    assert "--traffic nope.yaml: no such file" in capsys.readouterr().err


def test_run_reports_a_malformed_traffic_file(tmp_path: Path, capsys):
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text("- {at: 1, cal: {from: x, to: y}}\n")
    assert main(["run", FLOWS, "--traffic", str(traffic)]) == 1
    error = capsys.readouterr().err
    assert f"{traffic}:1:3: a step has at:, name: and one of call, answer" in error


def test_run_refuses_a_state_file_it_cannot_use_in_one_line(tmp_path: Path, capsys):
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"not a database" * 200)
    assert main(["run", FLOWS, "--state", str(state), "--no-traffic", "--duration", "1"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"state file {state} is damaged" in err[0]
    assert "Traceback" not in err[0]


def test_run_keeps_executions_in_the_state_file_across_runs(tmp_path: Path, capsys):
    state = tmp_path / "state.sqlite"
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text('- {at: 0.1, call: {from: "+33612345678", to: "2001"}}\n')
    args = ["run", FLOWS, "--state", str(state), "--traffic", str(traffic), "--duration", "1"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"state    {state}: 0 execution(s) to restore" in err
    assert "kept in the state file for the next start" in err  # the call rings 8 s
    assert main([*args[:4], "--no-traffic", "--duration", "0.5"]) == 0
    err = capsys.readouterr().err
    assert f"state    {state}: 2 execution(s) to restore" in err  # and missed-call-message
    # a new simulator: the call is gone, and the restored execution ends with its trace
    assert "no-answer-to-voicemail[" in err and "restored in ringing" in err
    assert "reconciled: OnCallRemoved from the snapshot" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert re.fullmatch(r"o2g-flows \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)
