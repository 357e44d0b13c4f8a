"""After an event gap the engine asks for snapshots and reconciles its executions."""

from __future__ import annotations

from o2g_flows.engine.live import subscription_for

RING = """\
flow: ring
users: [alice]
key: event.callRef
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    after: {seconds: 60, goto: voicemail}
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}
      OnCallRemoved: {goto: end}
  answered:
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter: [redirect: {to: VOICEMAIL}]
    goto: end
"""


async def test_a_call_that_ended_during_a_gateway_restart_is_reconciled(running, call, sim):
    engine = await running(RING)
    await call("+33140000099", "2001")
    await engine.until(lambda: engine.engine.executions())
    await sim.restart()  # a fresh PBX: the call is gone, and so are the session and events
    (trace,) = await engine.until(lambda: engine.traces("ring"), timeout=20)
    notes = [entry[2] for entry in trace.entries if entry[1] == "note"]
    assert notes == ["resynchronising with O2G", "reconciled: OnCallRemoved from the snapshot"]
    assert trace.states() == ["ringing", "end"]
    assert engine.actions() == []


async def test_snapshot_states_reconcile_offline(offline):
    run = offline(RING)
    ringing = [{"deviceId": "2001", "state": "RINGING_INCOMING"}]
    for ref in ("c1", "c2", "c3"):
        await run.send("OnCallCreated", loginName="alice", callRef=ref, legs=ringing)
    assert run.engine.snapshot_requests() == [("telephony.request_snapshot", "alice")]
    calls = [
        {"callRef": "c2", "legs": [{"deviceId": "2001", "state": "ACTIVE"}]},  # answered
        {"callRef": "c3", "legs": ringing},  # unchanged
        {"callRef": "c4", "legs": ringing},  # rang while the engine was blind
    ]
    await run.send("OnTelephonyState", loginName="alice", state={"calls": calls})
    states = {e.key: e.state for e in run.engine.executions()}
    assert states == {"c2": "answered", "c3": "ringing", "c4": "ringing"}
    (ended,) = run.engine.traces.query(key="c1")
    assert ended.states() == ["ringing", "end"]
    # a snapshot never starts a call the engine has already seen
    await run.send("OnTelephonyState", loginName="alice", state={"calls": calls})
    assert len(run.engine.executions()) == 3


def test_the_subscription_follows_the_flows(flows):
    from o2g_flows.engine import Engine, RecordingGateway

    engine = Engine(flows(RING), RecordingGateway())
    assert subscription_for(engine, admin=True) == (
        ["OnCallCreated", "OnCallModified", "OnCallRemoved", "OnTelephonyState"],
        ["alice"],
    )
    assert subscription_for(engine, admin=False)[1] is None
    anyone = Engine(
        flows("flow: a\non: OnAgentStateChanged\ndo: [agent_ready]\n"), RecordingGateway()
    )
    assert subscription_for(anyone, admin=True) == (["OnAgentStateChanged"], "*")
    # a flow listening to no O2G event (a webhook, a schedule) asks for nobody's events
    webhook = "flow: dnd\non: OnWebhook\ndo: [{log: hook}]\n"
    both = Engine([*flows(RING), *flows(webhook)], RecordingGateway())
    assert subscription_for(both, admin=True)[1] == ["alice"]
