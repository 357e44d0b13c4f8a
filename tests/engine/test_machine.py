"""The transitions structure: one machine per flow, executions as lean unbound models."""

from __future__ import annotations

import gc
import tracemalloc

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
    assert len(runtime.executions()) == 50
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
