"""The transitions structure: one machine per flow, executions as lean unbound models."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from o2g_flows.engine.machine import START, FlowMachine

RING = """\
flow: ring
key: event.callRef
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}
      OnCallRemoved: {goto: end}
  answered:
    on:
      OnCallRemoved: {goto: end}
"""


class Model:
    pass


def test_models_get_no_helpers_bound_and_are_not_listed():
    machine = FlowMachine(model=None, states=["a", "b"], initial="a", auto_transitions=False)
    machine.add_transition("go", "a", "b")
    model = Model()
    machine.add_model(model)
    assert model.state == "a"
    assert vars(model) == {"state": "a"}  # no trigger/is_a/to_b partials
    assert machine.models == []
    assert machine.events["go"].trigger(model) is True
    assert model.state == "b"
    machine.remove_model(model)  # nothing to undo


async def test_one_machine_per_flow_whatever_the_number_of_executions(offline):
    run = offline(RING)
    for n in range(50):
        await run.send("OnCallCreated", callRef=f"c{n}")
    runtime = run.engine.flows["ring"]
    assert len(runtime.runs()) == 50
    assert runtime.machine.models == []
    states = set(runtime.machine.states)
    assert states == {START, "ringing", "answered", "end"}


async def test_conditions_run_in_transitions_and_first_passing_handler_wins(offline):
    run = offline(RING)
    await run.send("OnCallCreated", callRef="c1")
    await run.send("OnCallModified", callRef="c1", modifiedLegs=[{"state": "HELD"}])
    (execution,) = run.engine.executions()
    assert execution.state == "ringing"
    await run.send("OnCallModified", callRef="c1", modifiedLegs=[{"state": "ACTIVE"}])
    assert execution.state == "answered"


async def test_an_execution_costs_well_under_two_kilobytes(offline):
    run = offline(RING)
    events = [
        {"eventName": "OnCallCreated", "callRef": f"c{n}", "loginName": "alice"}
        for n in range(2000)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for event in events:
        run.engine.dispatch(event)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(run.engine.executions()) == 2000
    assert used / 2000 < 2048


def _recording_machine(log: list) -> FlowMachine:
    """A machine using every feature the engine's machines use, each callback logging."""

    def note(name, result=None):
        def callback(event_data):
            log.append(
                (
                    name,
                    event_data.model.state,
                    event_data.state.name,
                    event_data.transition.source,
                    event_data.transition.dest,
                    event_data.args,
                )
            )
            return result

        return callback

    machine = FlowMachine(
        model=None,
        states=[
            {"name": "idle"},
            {"name": "ringing", "on_enter": [note("enter ringing")], "on_exit": [note("exit")]},
            {"name": "talking", "on_enter": [note("enter talking")]},
            {"name": "end", "final": True, "on_enter": [note("enter end")]},
        ],
        initial="idle",
        auto_transitions=False,
        send_event=True,
        before_state_change=[note("before change")],
        after_state_change=[note("after change")],
        on_final=[note("final")],
    )
    machine.add_transition("ring", "idle", "ringing", before=[note("before ring")])
    machine.add_transition("answer", "ringing", "talking", conditions=[note("no", False)])
    machine.add_transition(
        "answer", "ringing", "talking", conditions=[note("yes", True)], after=[note("after")]
    )
    machine.add_transition("note", "ringing", None, before=[note("internal")])
    machine.add_transition("again", "ringing", "ringing")
    machine.add_transition("hangup", ["ringing", "talking"], "end")
    machine.prepare()
    return machine


class Call:
    __slots__ = ("state",)


def test_fire_does_what_event_trigger_does_callback_by_callback():
    """FlowMachine.fire mirrors Event.trigger (run this after upgrading transitions)."""
    by_library: list = []
    by_fire: list = []
    library, fast = _recording_machine(by_library), _recording_machine(by_fire)
    first, second = Call(), Call()
    library.add_model(first)
    fast.add_model(second)
    for trigger in ["ring", "note", "again", "answer", "hangup"]:
        context = {"trigger": trigger}
        made = library.events[trigger].trigger(first, context)
        route = fast.fire(second, trigger, context)
        assert (route is not None) is made is True
        assert by_fire == by_library
        assert second.state == first.state
    assert second.state == "end"
    assert [entry[0] for entry in by_fire][-4:] == [
        "before change",
        "enter end",
        "final",
        "after change",
    ]


def test_fire_returns_none_when_no_transition_is_made():
    log: list = []
    machine = _recording_machine(log)
    call = Call()
    machine.add_model(call)
    assert machine.fire(call, "answer", None) is None  # not handled in idle
    assert machine.fire(call, "unknown", None) is None
    assert call.state == "idle" and log == []


def test_fire_refuses_machines_it_does_not_mirror():
    queued = FlowMachine(model=None, states=["a", "b"], initial="a", queued=True, send_event=True)
    with pytest.raises(ValueError, match="queued"):
        queued.prepare()
    named = FlowMachine(model=None, states=["a", "b"], initial="a", send_event=True)
    named.add_transition("go", "a", "b", before="on_go")
    with pytest.raises(ValueError, match="callbacks given by name"):
        named.prepare()
    call = Call()
    named.add_model(call)
    with pytest.raises(RuntimeError, match="prepare"):
        named.fire(call, "go")
