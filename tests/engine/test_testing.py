"""The offline runner: flows' tests on a virtual clock, and replays of event logs."""

from __future__ import annotations

import json
from pathlib import Path

from o2g_flows.engine import load_flows, load_text, replay, run_tests

FLOW = """\
flow: ring
users: [alice]
key: event.callRef
vars: {ring: 10}
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    after: {seconds: "${vars.ring}", goto: voicemail}
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}
  answered:
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
        on_error: continue
      - log: sent
    goto: end
tests:
"""
CREATED = "{at: 0, OnCallCreated: {loginName: alice, callRef: c1, legs: [{state: %s}]}}"


async def results(tests: str) -> list:
    loaded = load_text(FLOW + tests, "ring.yaml")
    assert loaded.ok, loaded.report()
    return await run_tests(loaded.flows, timezone="UTC")


async def test_a_passing_test():
    (result,) = await results(f"""\
  - name: voicemail after ring seconds
    events: [{CREATED % "RINGING_INCOMING"}]
    expect:
      - {{at: 10, redirect: {{call: c1, to: VOICEMAIL}}}}
    state: end
""")
    assert result.passed, result.report()
    assert result.report() == "PASS ring.yaml:24:5 ring: voicemail after ring seconds"
    assert [r.line() for r in result.actions] == [
        "10s redirect call=c1 to=VOICEMAIL user=alice",
        "10s log message=sent level=info",
    ]


async def test_a_failing_test_prints_a_diff_and_why_nothing_started():
    (result,) = await results(f"""\
  - name: wrong
    events: [{CREATED % "DIALING"}]
    expect:
      - {{at: 10, redirect: {{call: c1}}}}
    state: voicemail
""")
    assert not result.passed
    assert (
        result.report()
        == """\
FAIL ring.yaml:24:5 ring: wrong
    actions differ:
    @@ -1 +0,0 @@
    -10s redirect call=c1
    expected state 'voicemail' but no execution started
    at 0s OnCallCreated for c1: start condition "event.legs[0].state == 'RINGING_INCOMING'" \
was false"""
    )


async def test_differences_in_arguments_and_timing_show_in_the_diff():
    (result,) = await results(f"""\
  - name: late and elsewhere
    vars: {{ring: 12}}
    events: [{CREATED % "RINGING_INCOMING"}]
    expect:
      - {{at: 10, redirect: {{call: c1, to: "3000"}}}}
""")
    assert (
        result.problems[0]
        == """\
actions differ:
@@ -1 +1 @@
-10s redirect call=c1 to=3000
+12s redirect call=c1 to=VOICEMAIL"""
    )


async def test_states_absent_actions_and_injected_failures():
    cases = await results(f"""\
  - name: answered
    events:
      - {CREATED % "RINGING_INCOMING"}
      - {{at: 3, OnCallModified: {{loginName: alice, callRef: c1, modifiedLegs: [{{state: \
ACTIVE}}]}}}}
    absent: [redirect]
    state: {{c1: answered}}
  - name: the redirect fails and the flow goes on
    fail: {{redirect: "NOT_FOUND: gone"}}
    events: [{CREATED % "RINGING_INCOMING"}]
    expect:
      - {{redirect: {{}}}}
    state: end
  - name: wrong state
    events: [{CREATED % "RINGING_INCOMING"}]
    until: 5
    state: end
""")
    assert [c.passed for c in cases] == [True, True, False]
    assert [r.line() for r in cases[1].actions] == [
        "10s redirect call=c1 to=VOICEMAIL user=alice (failed)",
        "10s log message=sent level=info",
    ]
    assert cases[2].problems == ["expected c1 in state 'end', it is in 'ringing'"]


async def test_shipped_flows_pass_their_tests():
    loaded = load_flows([Path(__file__).parents[2] / "flows"])
    found = await run_tests(loaded.flows)
    assert found and all(result.passed for result in found), "\n".join(
        r.report() for r in found if not r.passed
    )
    assert all(flow.tests for flow in loaded.flows)


async def test_replay_of_a_recorded_event_log(tmp_path: Path):
    loaded = load_text(FLOW, "ring.yaml")
    log = tmp_path / "events.jsonl"
    lines = [
        {
            "eventName": "OnCallCreated",
            "loginName": "alice",
            "callRef": "c1",
            "legs": [{"state": "RINGING_INCOMING"}],
        },
        {
            "eventName": "OnCallCreated",
            "loginName": "alice",
            "callRef": "c2",
            "legs": [{"state": "RINGING_INCOMING"}],
        },
        {
            "eventName": "OnCallModified",
            "loginName": "alice",
            "callRef": "c2",
            "modifiedLegs": [{"state": "ACTIVE"}],
        },
        {"eventName": "OnEventGap", "reason": "relogin"},
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    report = await replay(loaded.flows, log, timezone="UTC")
    assert report.events == 4
    assert [(r.flow, r.key, r.action) for r in report.actions] == [
        ("ring", "c1", "redirect"),
        ("ring", "c1", "log"),
    ]
    assert report.errors == [f"{log}:5: not JSON (Expecting value: line 1 column 1 (char 0))"]
    assert report.report().splitlines()[-1] == (
        "4 events replayed, 2 actions would have been taken"
    )


async def test_replay_places_timed_events_on_the_virtual_clock(tmp_path: Path):
    loaded = load_text(FLOW, "ring.yaml")
    log = tmp_path / "events.jsonl"
    created = {
        "eventName": "OnCallCreated",
        "loginName": "alice",
        "callRef": "c1",
        "legs": [{"state": "RINGING_INCOMING"}],
    }
    answered = {
        "eventName": "OnCallModified",
        "loginName": "alice",
        "callRef": "c1",
        "modifiedLegs": [{"state": "ACTIVE"}],
    }
    log.write_text(
        json.dumps({"receivedAt": 1000.0, "event": created})
        + "\n"
        + json.dumps({"receivedAt": "1970-01-01T00:16:45Z", "event": answered})
    )
    report = await replay(loaded.flows, log)
    assert report.actions == []  # answered after 5 s, before the 10 s timer
