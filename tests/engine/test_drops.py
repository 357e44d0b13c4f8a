"""Events a flow listens to and drops leave a reason in the traces (issue 8, item 1), and an
event that ends an execution does not start the next one (item 4)."""

from __future__ import annotations

import pytest

from o2g_flows.engine.registry import Registry
from o2g_flows.engine.testing import run_tests


@pytest.fixture
def alarms() -> Registry:
    """A registry where a plugin declares the event ``Alarm`` (no callRef, no loginName)."""
    registry = Registry.builtin()
    registry.event("Alarm")
    return registry


ALERT = """\
flow: alert
users: [alice]
on: Alarm
do:
  - log: "alarm ${event.level}"
"""


async def test_an_event_without_the_default_key_is_dropped_with_its_reason(offline, alarms):
    run = offline("flow: hook\non: Alarm\ndo:\n  - log: x\n", alarms)
    await run.send("Alarm", level=3)
    assert run.actions == []
    (drop,) = run.engine.traces.drops()
    assert (drop.flow, drop.name) == ("hook", "Alarm")
    assert drop.reason == (
        "its key event.callRef || event.loginName || event.schedule is null for this event"
    )
    assert str(drop).endswith(
        "hook: Alarm dropped: its key event.callRef || event.loginName "
        "|| event.schedule is null for this event"
    )


async def test_a_users_filter_on_an_event_without_a_user_drops_it_with_its_reason(offline, alarms):
    run = offline(ALERT.replace("on: Alarm", "key: event.level\non: Alarm"), alarms)
    await run.send("Alarm", level=3)
    (drop,) = run.engine.traces.drops()
    assert drop.reason == "it names no user (loginName) and users: admits alice"
    await run.send("Alarm", level=4, loginName="alice")
    assert run.names() == ["log"]


async def test_drops_are_kept_with_a_bounded_count(offline, alarms):
    run = offline("flow: hook\non: Alarm\ndo:\n  - log: x\n", alarms)
    for level in range(250):
        await run.send("Alarm", level=level)
    assert len(run.engine.traces.drops()) == 200
    assert run.engine.traces.drop_count == 250


MACHINE = """\
flow: queue-alert
key: event.callRef
start:
  on: [OnCallCreated, OnCallModified]
  goto: waiting
states:
  waiting:
    on:
      OnCallModified: {goto: end}
    enter:
      - log: "alert for ${key}"
"""


async def test_an_event_that_ends_an_execution_does_not_start_another(offline):
    run = offline(MACHINE)
    await run.send("OnCallCreated", callRef="c1", loginName="alice")
    await run.send("OnCallModified", callRef="c1", loginName="alice")  # ends it
    assert run.names() == ["log"]  # one alert, not a second one started by the same event
    assert run.engine.executions() == []
    await run.send("OnCallModified", callRef="c1", loginName="alice")  # a later event starts
    assert run.names() == ["log", "log"]


async def test_a_second_users_start_on_a_running_key_is_dropped_with_its_reason(offline):
    run = offline(MACHINE.replace("[OnCallCreated, OnCallModified]", "OnCallCreated"))
    await run.send("OnCallCreated", callRef="c1", loginName="alice")
    await run.send("OnCallCreated", callRef="c1", loginName="bob")
    (drop,) = run.engine.traces.drops()
    assert drop.reason == "an execution for c1 is running (mode: single)"


async def test_a_failing_test_says_why_nothing_happened(flows, alarms):
    (flow,) = flows(
        ALERT
        + """\
tests:
  - name: alarms are logged
    events: [{Alarm: {level: 1}}]
    expect: [{emit: {event: Paged}}]
""",
        alarms,
    )
    (result,) = await run_tests([flow], alarms, timezone="UTC")
    assert not result.passed
    assert result.problems[-1] == (
        "at 0s Alarm dropped by alert: it names no user (loginName) and users: admits alice"
    )
