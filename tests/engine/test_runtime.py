"""The runtime offline: run modes, per-key order, timers, guards, on_error, emit, vars."""

from __future__ import annotations

import asyncio

import pytest

from o2g_flows.engine.registry import Registry
from o2g_flows.plugins import Param


def pings() -> Registry:
    registry = Registry.builtin()
    registry.event("Ping", "Stop")
    return registry


MODES = """\
flow: modes
key: event.loginName
mode: {mode}
max: 2
start:
  on: Ping
  do:
    - log: "start ${{event.n}}"
  goto: waiting
states:
  waiting:
    after: {{seconds: 10, goto: end}}
    on:
      Stop: {{goto: end}}
"""


async def test_single_ignores_a_new_start_while_an_execution_lives(offline):
    run = offline(MODES.format(mode="single"), pings())
    await run.send("Ping", loginName="alice", n=1)
    await run.send("Ping", loginName="alice", n=2)
    await run.send("Ping", loginName="bob", n=3)
    assert run.actions == [
        ("log", {"message": "start 1", "level": "info"}),
        ("log", {"message": "start 3", "level": "info"}),
    ]
    assert run.engine.flows["modes"].skipped == 1


async def test_restart_ends_the_live_execution_and_starts_anew(offline):
    run = offline(MODES.format(mode="restart"), pings())
    await run.send("Ping", loginName="alice", n=1)
    await run.send("Ping", loginName="alice", n=2)
    (first,) = run.engine.traces.query(flow="modes")
    assert first.outcome == "restarted"
    (live,) = run.engine.executions()
    assert live.event["n"] == 2


async def test_queued_starts_waiting_events_in_turn_up_to_max(offline):
    run = offline(MODES.format(mode="queued"), pings())
    for n in (1, 2, 3, 4):  # 1 runs, 2 and 3 wait (max 2), 4 is dropped
        await run.send("Ping", loginName="alice", n=n)
    await run.send("Stop", loginName="alice")  # ends 1, so 2 starts
    await run.advance(10)  # the timer ends 2, so 3 starts
    await run.advance(10)
    assert [args["message"] for _, args in run.actions] == ["start 1", "start 2", "start 3"]
    assert [t.outcome for t in run.engine.traces] == ["ended"] * 3
    assert run.engine.flows["modes"].skipped == 1


async def test_parallel_runs_several_executions_per_key_and_feeds_them_all(offline):
    run = offline(MODES.format(mode="parallel"), pings())
    for n in (1, 2, 3):
        await run.send("Ping", loginName="alice", n=n)
    assert len(run.engine.executions()) == 2  # max 2
    await run.send("Stop", loginName="alice")
    assert run.engine.executions() == []
    assert len(run.engine.traces.query(flow="modes")) == 2


SLOW = """\
flow: ordered
key: event.callRef
start:
  on: OnCallCreated
  do: [slow]
  goto: ringing
states:
  ringing:
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}
  answered:
    on:
      OnCallRemoved: {goto: end}
"""


async def test_events_of_one_key_wait_in_order_while_other_keys_proceed(offline):
    registry = Registry.builtin()
    gate = asyncio.Event()
    running: list[str] = []

    @registry.action("slow")
    async def slow(ctx, args):
        running.append(ctx.execution.key)
        await gate.wait()

    run = offline(SLOW, registry)
    engine = run.engine
    active = {"modifiedLegs": [{"deviceId": "2001", "state": "ACTIVE"}]}
    engine.dispatch({"eventName": "OnCallCreated", "callRef": "c1"})
    engine.dispatch({"eventName": "OnCallModified", "callRef": "c1", **active})
    engine.dispatch({"eventName": "OnCallCreated", "callRef": "c2"})
    engine.dispatch({"eventName": "OnCallModified", "callRef": "c2", **active})
    engine.dispatch({"eventName": "OnCallRemoved", "callRef": "c1"})
    await asyncio.sleep(0)
    assert running == ["c1", "c2"]  # both keys run at once
    (c1,) = engine.flows["ordered"].live["c1"]
    assert c1.execution.state == "ringing" and len(c1.inbox) == 2  # c1's events wait, in order
    gate.set()
    await engine.idle()
    (finished,) = engine.traces.query(key="c1")
    assert finished.states() == ["ringing", "answered", "end"]
    (c2,) = engine.executions()
    assert c2.state == "answered"


TIMER = """\
flow: timer
key: event.callRef
vars: {ring: 20}
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {seconds: "${vars.ring}", goto: voicemail}
    on:
      OnCallModified: {goto: ringing}
      OnCallRemoved: {goto: end}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
    goto: end
"""


async def test_after_timers_fire_and_are_cancelled_when_the_state_is_left(offline):
    run = offline(TIMER)
    await run.send("OnCallCreated", callRef="c1", loginName="alice")
    await run.send("OnCallCreated", callRef="c2", loginName="alice")
    await run.advance(5)
    await run.send("OnCallRemoved", callRef="c1", loginName="alice")
    await run.send("OnCallModified", callRef="c2", loginName="alice")  # re-entry: 20 s again
    await run.advance(19)
    assert run.actions == []
    await run.advance(1)
    assert run.actions == [("redirect", {"call": "c2", "to": "VOICEMAIL", "user": "alice"})]
    assert run.timers.next_due() is None


async def test_a_timer_delay_that_cannot_be_computed_is_traced(offline):
    run = offline(TIMER.replace("vars.ring", "event.nothing"))
    await run.send("OnCallCreated", callRef="c1")
    (execution,) = run.engine.executions()
    trace = run.engine.traces.current(execution)
    assert trace.failed
    notes = [entry[2] for entry in trace.entries if entry[1] == "note"]
    assert notes == [
        "timer 0 not set: None is not a duration (a number of seconds, or 20s, 2m, 1h, 1d)"
    ]


GUARDED = """\
flow: guarded
key: event.callRef
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {seconds: 10, goto: voicemail}
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
        guard: "call.legs[0].state == 'RINGING_INCOMING'"
    goto: end
"""


async def test_a_guard_rechecks_fresh_state_before_acting(offline):
    run = offline(GUARDED)
    ringing = [{"deviceId": "2001", "state": "RINGING_INCOMING"}]
    await run.send("OnCallCreated", callRef="c1", loginName="alice", legs=ringing)
    await run.send("OnCallCreated", callRef="c2", loginName="alice", legs=ringing)
    # c2 is answered, but this flow does not listen to OnCallModified: only the guard knows
    run.gateway.observe(
        {
            "eventName": "OnCallModified",
            "callRef": "c2",
            "modifiedLegs": [{"deviceId": "2001", "state": "ACTIVE"}],
        }
    )
    await run.advance(10)
    assert run.actions == [("redirect", {"call": "c1", "to": "VOICEMAIL", "user": "alice"})]
    (skipped,) = run.engine.traces.query(key="c2")
    assert ("skip", "redirect", "guard is false") in [entry[1:] for entry in skipped.entries]


ON_ERROR = """\
flow: errors
key: event.callRef
start:
  on: OnCallCreated
  goto: trying
states:
  trying:
    enter:
      - answer: {{}}
        on_error: {policy}
      - log: after the answer
    on:
      OnCallRemoved: {{goto: end}}
      OnCallModified: {{goto: recover}}
  recover:
    enter:
      - redirect: {{to: "3000"}}
    goto: end
"""


@pytest.mark.parametrize(
    ("policy", "actions", "state"),
    [
        ("continue", ["answer", "log"], "trying"),
        ("stop", ["answer"], "trying"),
        ("goto recover", ["answer", "redirect"], None),
    ],
)
async def test_on_error_decides_what_follows_a_failed_action(offline, policy, actions, state):
    run = offline(ON_ERROR.format(policy=policy))
    run.gateway.failures["answer"] = "NOT_FOUND: no such call"
    await run.send("OnCallCreated", callRef="c1", loginName="alice", legs=[{"deviceId": "2001"}])
    assert run.names() == actions
    live = run.engine.executions()
    assert [e.state for e in live] == ([state] if state else [])
    trace = run.engine.traces.current(live[0]) if live else run.engine.traces.query(key="c1")[0]
    assert trace.failed
    name, _, ok, error, _ = trace.actions()[0][2:]
    assert (name, ok, error["message"]) == ("answer", False, "NOT_FOUND: no such call")


async def test_a_failure_is_contained_to_its_execution(offline):
    run = offline(ON_ERROR.format(policy="stop"))
    run.gateway.failures["answer"] = "SERVER_PROBLEM"
    await run.send("OnCallCreated", callRef="c1", legs=[{"deviceId": "1"}])
    run.gateway.failures.clear()
    await run.send("OnCallCreated", callRef="c2", legs=[{"deviceId": "2"}])
    assert run.names() == ["answer", "answer", "log"]
    assert [args.get("call") for _, args in run.actions] == ["c1", "c2", None]
    assert sorted(e.key for e in run.engine.executions()) == ["c1", "c2"]


async def test_emit_reaches_other_flows_and_set_keeps_vars(offline, flows):
    registry = Registry.builtin()
    text = """\
flow: vip
on: OnCallCreated
do:
  - set: {who: "${remote_number(event)}"}
  - emit: {event: VipCalled, data: {number: "${vars.who}", loginName: "${event.loginName}"}}
"""
    other = """\
flow: notify
on: VipCalled
do:
  - mini_message: {to: "2000", message: "VIP ${event.number} called ${event.loginName}"}
"""
    from o2g_flows.engine import Engine, RecordingGateway

    registry.event("VipCalled")
    engine = Engine(
        flows(text, registry) + flows(other, registry), RecordingGateway(), registry=registry
    )
    engine.dispatch(
        {
            "eventName": "OnCallCreated",
            "callRef": "c1",
            "loginName": "alice",
            "participants": [{"participantId": "+33140000001"}],
        }
    )
    await engine.idle()
    (sent,) = engine.gateway.records
    assert sent.kwargs == {
        "recipient": "2000",
        "message": "VIP +33140000001 called alice",
        "login_name": "alice",
    }


async def test_action_results_can_be_kept_with_as(offline):
    registry = Registry.builtin()

    @registry.action("lookup", Param("number", type="phone", required=True))
    async def lookup(ctx, args):
        return {"name": "Victor", "number": args["number"]}

    run = offline(
        """\
flow: lookup
on: OnCallCreated
do:
  - lookup: {number: "${remote_number(event)}"}
    as: contact
  - log: "hello ${vars.contact.name}"
""",
        registry,
    )
    await run.send("OnCallCreated", callRef="c1", participants=[{"participantId": "123"}])
    assert run.actions[-1] == ("log", {"message": "hello Victor", "level": "info"})


async def test_now_follows_the_clock_in_the_engine_time_zone(offline):
    run = offline("""\
flow: hours
on: OnCallCreated
when: "time_in(now, '08:00-18:00') && weekday_in(now, 'mon-fri')"
do: [hangup]
""")
    await run.send("OnCallCreated", callRef="c1")  # Monday 09:00 UTC
    await run.advance(10 * 3600)  # 19:00
    await run.send("OnCallCreated", callRef="c2")
    assert [args["call"] for _, args in run.actions] == ["c1"]


async def test_events_with_missing_fields_do_not_crash(offline):
    run = offline(TIMER)
    await run.send("OnCallCreated")  # no callRef: no key, nothing starts
    await run.send("OnCallModified", callRef={"not": "hashable"})
    assert run.engine.executions() == []
    run2 = offline(
        GUARDED.replace("goto: ringing", "goto: ringing\n  when: \"event.legs[0].state == 'X'\"")
    )
    await run2.send("OnCallCreated", callRef="c1", legs="garbage")
    assert run2.engine.executions() == []


async def test_endless_goto_loops_are_stopped(offline):
    run = offline("""\
flow: loop
key: event.callRef
start: {on: OnCallCreated, goto: a}
states:
  a: {goto: b}
  b: {goto: a}
""")
    await run.send("OnCallCreated", callRef="c1")
    (trace,) = run.engine.traces.query(flow="loop")
    assert trace.outcome == "loop" and trace.failed


async def test_stop_ends_live_executions(offline):
    run = offline(TIMER)
    await run.send("OnCallCreated", callRef="c1")
    await run.engine.stop()
    assert run.engine.executions() == []
    assert [t.outcome for t in run.engine.traces] == ["stopped"]


async def test_a_run_ended_before_its_actions_started_leaves_the_engine_idle(offline):
    # two starts in one turn of the loop: the first run's task is cancelled before it ran
    run = offline(MODES.format(mode="restart"), pings())
    run.engine.dispatch({"eventName": "Ping", "loginName": "alice", "n": 1})
    run.engine.dispatch({"eventName": "Ping", "loginName": "alice", "n": 2})
    await asyncio.wait_for(run.engine.idle(), 5)
    assert [t.outcome for t in run.engine.traces] == ["restarted"]
    assert [name for name, _ in run.actions] == ["log"]
    await asyncio.wait_for(run.engine.stop(drain=0), 5)
    assert run.engine.executions() == []
