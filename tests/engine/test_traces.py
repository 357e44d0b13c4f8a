"""Traces: what drove an execution and what it did; retention; redaction; printing."""

from __future__ import annotations

from o2g_flows.engine.trace import Trace, TraceStore, redact

MACHINE = """\
flow: ring
key: event.callRef
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    after: {seconds: 8, goto: voicemail}
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: end}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
    goto: end
"""
RINGING = [{"deviceId": "2001", "state": "RINGING_INCOMING"}]


async def test_a_trace_holds_events_conditions_transitions_and_actions(offline):
    run = offline(MACHINE)
    await run.send("OnCallCreated", callRef="c1", loginName="alice", legs=RINGING)
    await run.send(
        "OnCallModified",
        callRef="c1",
        loginName="alice",
        modifiedLegs=[{"deviceId": "2001", "state": "HELD"}],
    )
    await run.advance(8)
    (trace,) = run.engine.traces.query(flow="ring", key="c1")
    kinds = [(entry[1], *entry[2:4]) for entry in trace.entries]
    assert kinds[:6] == [
        ("event", "OnCallCreated", trace.entries[0][3]),
        ("condition", "event.legs[0].state == 'RINGING_INCOMING'", True),
        ("transition", "<start>", "ringing"),
        ("event", "OnCallModified", kinds[3][2]),
        ("condition", "event.modifiedLegs[0].state == 'ACTIVE'", False),
        ("timer", "after 8s"),
    ]
    assert trace.states() == ["ringing", "voicemail", "end"]
    (action,) = trace.actions()
    _, _, name, args, ok, result, ms = action
    assert (name, args, ok, result) == (
        "redirect",
        {"call": "c1", "to": "VOICEMAIL", "user": "alice"},
        True,
        None,
    )
    assert ms >= 0
    assert trace.outcome == "ended" and not trace.failed
    assert trace.ended - trace.started == 8


async def test_recent_and_failed_traces_are_bounded_separately(offline):
    run = offline(MACHINE, traces=TraceStore(recent=2, failed=1))
    run.gateway.failures["redirect"] = "NOT_FOUND"
    for ref in ("c1", "c2"):
        await run.send("OnCallCreated", callRef=ref, loginName="alice", legs=RINGING)
    await run.advance(8)  # both fail
    run.gateway.failures.clear()
    for ref in ("c3", "c4", "c5"):
        await run.send("OnCallCreated", callRef=ref, loginName="alice", legs=RINGING)
    await run.advance(8)
    store = run.engine.traces
    assert [t.key for t in store.query()] == ["c4", "c5"]
    assert [t.key for t in store.query(failed=True)] == ["c2"]
    assert [t.key for t in store.query(failed=False)] == ["c4", "c5"]
    assert store.query(flow="other") == []
    assert [t.key for t in store.query(limit=1)] == ["c5"]


async def test_numbers_can_be_redacted_in_kept_traces(offline):
    run = offline(MACHINE, traces=TraceStore(redact_numbers=True))
    parties = [
        {
            "participantId": "+33140000001",
            "identity": {"id": {"phoneNumber": "+33140000001", "loginName": "victor"}},
        }
    ]
    await run.send(
        "OnCallCreated", callRef="c1", loginName="alice", legs=RINGING, participants=parties
    )
    await run.advance(8)
    (trace,) = run.engine.traces.query()
    event = trace.to_dict()["entries"][0]["event"]
    assert event["participants"][0]["identity"]["id"] == {
        "phoneNumber": "+*********01",
        "loginName": "victor",
    }
    assert event["participants"][0]["participantId"] == "+*********01"
    assert "+33140000001" not in trace.format()


def test_redact_masks_number_fields_only():
    data = {"to": "2001", "message": "hello 2001", "list": [{"number": "123456"}]}
    assert redact(data) == {"to": "**01", "message": "hello 2001", "list": [{"number": "****56"}]}


async def test_traces_print_readably_and_as_json(offline):
    run = offline(MACHINE)
    await run.send("OnCallCreated", callRef="c1", loginName="alice", legs=RINGING)
    await run.advance(8)
    (trace,) = run.engine.traces.query()
    text = trace.format()
    assert text.splitlines()[0].startswith("ring[c1] #1 ended started ")
    assert "transition ringing -> voicemail (after 8s)" in text
    assert 'action     redirect {"call":"c1","to":"VOICEMAIL","user":"alice"} ok null' in text
    view = trace.to_dict()
    assert view["outcome"] == "ended"
    assert [item["kind"] for item in view["entries"]] == [
        "event",
        "condition",
        "transition",
        "timer",
        "transition",
        "action",
        "transition",
    ]


def test_a_trace_outside_an_engine():
    trace = Trace("f", "k", 1, 0.0)
    trace.add(0.0, "note", "hello")
    assert "note       hello" in trace.format()
    assert repr(trace) == "<Trace f[k] #1 running>"
