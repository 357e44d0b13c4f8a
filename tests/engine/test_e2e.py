"""End to end: the shipped flows on live simulator events, acting over real HTTP."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from o2g_flows.engine import load_flows

FLOWS = Path(__file__).parents[2] / "flows"


@pytest.fixture
def shipped():
    """The shipped flows by name, timers shortened through their vars."""
    loaded = load_flows([FLOWS])
    assert loaded.ok, loaded.report()
    quick = {"ring_seconds": 0.3, "break_seconds": 0.3}
    return {
        flow.name: dataclasses.replace(
            flow, vars={k: quick.get(k, v) for k, v in flow.vars.items()}
        )
        for flow in loaded.flows
    }


async def test_an_incoming_vip_call_is_answered_by_a_rule(running, shipped, call, o2g):
    engine = await running([shipped["reception-auto-answer"]])
    ref = await call("+33140000001", "2000")
    (trace,) = await engine.until(lambda: engine.traces("reception-auto-answer"))
    assert [(a[0], a[2]) for a in engine.actions()] == [("answer", True), ("log", True)]
    state = (await o2g.telephony.get_call(ref, login_name="reception"))["legs"][0]["state"]
    assert state == "ACTIVE"
    assert trace.outcome == "ended"


async def test_a_call_nobody_answers_goes_to_voicemail(running, shipped, call, o2g):
    engine = await running([shipped["no-answer-to-voicemail"]])
    ref = await call("+33140000099", "2001")
    (trace,) = await engine.until(lambda: engine.traces("no-answer-to-voicemail"))
    assert trace.states() == ["ringing", "voicemail", "end"]
    redirect, log = engine.actions()
    assert (redirect[0], redirect[1]["to"], redirect[2]) == ("redirect", "VOICEMAIL", True)
    assert log[0] == "log"
    calls = await o2g.telephony.get_calls(login_name="alice")
    assert ref not in [c["callRef"] for c in calls.get("calls") or []]


async def test_an_answered_call_is_not_sent_to_voicemail(running, shipped, call, control):
    flow = dataclasses.replace(shipped["no-answer-to-voicemail"], vars={"ring_seconds": 30})
    engine = await running([flow])
    ref = await call("+33140000099", "2001")
    await engine.until(lambda: engine.engine.executions())
    await control.post("/sim/devices/2001/answer", json={"callRef": ref})
    await engine.until(lambda: [e for e in engine.engine.executions() if e.state == "answered"])
    await control.post("/sim/devices/2001/hangup", json={"callRef": ref})
    (trace,) = await engine.until(lambda: engine.traces("no-answer-to-voicemail"))
    assert trace.states() == ["ringing", "answered", "end"]
    assert engine.actions() == []


async def test_an_agent_goes_back_to_ready_after_wrap_up(running, shipped, call, control, o2g):
    engine = await running([shipped["agent-break-after-call"]])
    await control.post("/sim/agents/agent1/logon", json={})
    await control.post("/sim/agents/agent1/ready", json={})
    ref = await call("+33140000002", "5000")
    await control.post("/sim/devices/2301/answer", json={"callRef": ref})
    await control.post("/sim/devices/2301/hangup", json={"callRef": ref})
    (trace,) = await engine.until(lambda: engine.traces("agent-break-after-call"))
    assert trace.states() == ["on_break", "back_to_work", "end"]
    assert [(a[0], a[2]) for a in engine.actions()] == [
        ("agent_pause", True),
        ("agent_ready", True),
    ]
    assert (await o2g.acd.get_state(login_name="agent1"))["subState"] == "READY"


async def test_a_missed_call_leaves_a_mini_message(running, shipped, call, control, o2g):
    engine = await running([shipped["missed-call-message"]])
    await call("+33612345678", "2002")
    await engine.until(lambda: engine.engine.executions())
    await control.post("/sim/externals/+33612345678/hangup", json={})
    await engine.until(lambda: engine.traces("missed-call-message"))
    message = await o2g.telephony.get_mini_message(login_name="bob")
    assert message["message"] == "Missed call from +33612345678"
    assert message["sender"] == "2000"


async def test_all_shipped_flows_together(running, shipped, call, o2g):
    engine = await running(list(shipped.values()))
    await call("+33140000099", "2001")
    await engine.until(lambda: engine.traces("missed-call-message"))
    assert [a[0] for a in engine.actions("no-answer-to-voicemail")] == ["redirect", "log"]
    message = await o2g.telephony.get_mini_message(login_name="alice")
    assert message["message"] == "Missed call from +33140000099 (voicemail)"


GUARDED = """\
flow: guarded
users: [alice]
key: event.callRef
start: {on: OnCallCreated, goto: ringing}
states:
  ringing:
    after: {seconds: 0.5, goto: voicemail}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
        guard: "call.legs[0].state == 'RINGING_INCOMING'"
    goto: end
"""


async def test_a_guard_reads_the_call_from_o2g_before_acting(running, call, control, o2g):
    engine = await running(GUARDED)
    answered = await call("+33140000099", "2001")
    await control.post("/sim/devices/2001/answer", json={"callRef": answered})
    ringing = await call("+33612345678", "2002")  # not alice's: no execution
    traces = await engine.until(
        lambda: len(engine.traces("guarded")) == 1 and engine.traces("guarded")
    )
    assert traces[0].key == answered
    skipped = [entry[2:] for entry in traces[0].entries if entry[1] == "skip"]
    assert skipped == [("redirect", "guard is false")]
    state = (await o2g.telephony.get_call(answered, login_name="alice"))["legs"][0]["state"]
    assert state == "ACTIVE"
    assert ringing not in [t.key for t in engine.traces("guarded")]


async def test_a_burst_of_unanswered_calls_all_reach_voicemail_and_later_calls_too(
    running, shipped, call, control
):
    # the first engine's timers: 9 of 20 fired in such a burst, and none ever after
    engine = await running([shipped["no-answer-to-voicemail"]])
    refs = [await call(f"+336123456{n:02d}", "2001") for n in range(40)]
    await engine.until(lambda: len(engine.traces("no-answer-to-voicemail")) == 40, timeout=20)
    redirected = {
        a[1]["call"]
        for a in engine.actions("no-answer-to-voicemail")
        if a[0] == "redirect" and a[2]
    }
    assert redirected == set(refs)
    later = await call("+33612345699", "2001")
    await engine.until(lambda: len(engine.traces("no-answer-to-voicemail")) == 41, timeout=10)
    (last,) = engine.engine.traces.query(key=later)
    assert "voicemail" in last.states()
