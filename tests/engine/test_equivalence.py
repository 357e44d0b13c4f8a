"""The optimised engine keeps its behaviour: a recorded workload gives the same traces, states,
actions and drops as the engine gave before the hot path and the condition index changed.

``data/equivalence.json`` was written by the engine before those changes
(``python tests/engine/test_equivalence.py`` writes it again: only do that for a change of
behaviour you mean). The workload mixes machines and rules, run modes, timers firing,
flows for every user whose start conditions the index handles (equalities, ``contains``
of constant lists, conjunctions) and ones it does not, errors in conditions and keys.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

from o2g_flows.engine import load_text
from o2g_flows.engine.model import Flow
from o2g_flows.engine.registry import Registry
from o2g_flows.engine.testing import OfflineEngine
from o2g_flows.engine.trace import TraceStore

DATA = Path(__file__).parent / "data" / "equivalence.json"
START = 1_736_154_000.0
USERS = ["alice", "bob", "carol", "dave"]
STATES = ["RINGING_INCOMING", "RINGING_OUTGOING", "ACTIVE", "HELD", None]
NUMBERS = ["+33140000001", "+33140000002", "+33140000003", "2001", None]

FLOWS = [
    """
flow: ring-{mode}
key: event.callRef
users: [alice, bob]
mode: {mode}
max: 2
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING' && event.callData.state != 'RELEASING'"
  goto: ringing
states:
  ringing:
    after: {{seconds: 20, goto: voicemail}}
    on:
      OnCallModified:
        - {{when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}}
        - {{when: "event.modifiedLegs[0].state == 'HELD'", goto: held}}
      OnCallRemoved: {{goto: end}}
  answered:
    on:
      OnCallModified: {{when: "event.modifiedLegs[0].state == 'HELD'", goto: held}}
      OnCallRemoved: {{goto: end}}
  held:
    after: {{seconds: 5, goto: answered}}
    on:
      OnCallRemoved: {{goto: end}}
  voicemail:
    enter:
      - redirect: {{call: "${{key}}", to: "3000"}}
    goto: end
""",
    """
flow: vip-any
users: "*"
vars: {vips: ["+33140000001", "+33140000002"]}
on: OnCallCreated
when: >-
  event.legs[0].state == 'RINGING_INCOMING'
  && contains(vars.vips, event.participants[0].identity.id.phoneNumber)
do:
  - answer: {}
""",
    """
flow: literal-list-any
users: "*"
on: OnCallCreated
when: "contains(['2001', '+33140000003'], event.participants[0].identity.id.phoneNumber)"
do:
  - log: "listed ${event.callRef}"
""",
    """
flow: reversed-any
users: "*"
on: OnCallCreated
when: "'RINGING_OUTGOING' == event.legs[0].state"
do:
  - log: "outgoing ${event.callRef}"
""",
    """
flow: unindexed-any
users: "*"
on: OnCallCreated
when: "event.legs[0].state == 'ACTIVE' || length(event.legs) > `1`"
do:
  - log: "odd ${event.callRef}"
""",
    """
flow: failing-any
users: "*"
on: OnCallCreated
when: "length(event.callData.state) > `3` && event.legs[0].state == 'HELD'"
do:
  - log: "held ${event.callRef}"
""",
    """
flow: no-condition-any
users: "*"
key: event.callRef
start:
  - on: OnCallCreated
    when: "event.legs[0].state == 'HELD'"
    goto: held
  - on: [OnCallCreated, OnCallModified]
    goto: seen
states:
  held:
    on:
      OnCallRemoved: {goto: end}
  seen:
    after: {seconds: 3, goto: end}
""",
    """
flow: agent-wrapup
key: event.loginName
users: "*"
start:
  on: OnAgentStateChanged
  when: "event.state.mainState == 'LOG_ON' && event.state.subState == 'WRAPUP'"
  goto: wrapping
states:
  wrapping:
    after: {seconds: 30, goto: ready}
    on:
      OnAgentStateChanged:
        - {when: "event.state.subState == 'READY'", goto: end}
  ready:
    enter:
      - agent_ready: {}
    goto: end
""",
]


def flows() -> list[Flow]:
    """The workload's flows."""
    registry = Registry.builtin()
    loaded: list[Flow] = []
    texts = [FLOWS[0].format(mode=mode) for mode in ("single", "restart", "queued", "parallel")]
    for n, text in enumerate([*texts, *FLOWS[1:]]):
        result = load_text(text, f"flow-{n}.yaml", registry)
        assert not result.errors, result.report()
        loaded.extend(result.flows)
    return loaded


def workload(count: int = 600, seed: int = 12) -> list[tuple[float, dict[str, Any]]]:
    """``(seconds from start, event)``: calls ringing, changing and ending, agents, noise."""
    rng = random.Random(seed)
    events: list[tuple[float, dict[str, Any]]] = []
    calls: list[tuple[str, str]] = []
    at = 0.0
    for serial in range(count):
        at += rng.choice([0.0, 0.5, 1.0, 2.0, 4.0])
        roll = rng.random()
        login = rng.choice(USERS)
        if roll < 0.35 or not calls:
            ref = f"c{serial}" if rng.random() < 0.7 or not calls else rng.choice(calls[-4:])[0]
            calls.append((ref, login))
            legs: Any = [{"deviceId": "2001", "state": rng.choice(STATES)}]
            if rng.random() < 0.1:
                legs.append({"deviceId": "2002", "state": "ACTIVE"})
            if rng.random() < 0.05:
                legs = []
            number = rng.choice(NUMBERS)
            event = {
                "eventName": "OnCallCreated",
                "loginName": login,
                "callRef": ref,
                "callData": {"state": rng.choice(["RINGING_INCOMING", "RELEASING", 7, None])},
                "legs": legs,
                "participants": [{"identity": {"id": {"phoneNumber": number}}}],
            }
            if rng.random() < 0.05:
                del event["callRef"]
        elif roll < 0.7:
            ref, login = rng.choice(calls)
            state = rng.choice(["ACTIVE", "HELD", "ACTIVE", "RELEASING"])
            event = {
                "eventName": "OnCallModified",
                "loginName": login,
                "callRef": ref,
                "modifiedLegs": [{"deviceId": "2001", "state": state}],
            }
        elif roll < 0.85:
            ref, login = calls.pop(rng.randrange(len(calls)))
            event = {"eventName": "OnCallRemoved", "loginName": login, "callRef": ref}
        elif roll < 0.95:
            event = {
                "eventName": "OnAgentStateChanged",
                "loginName": rng.choice(USERS),
                "state": {
                    "mainState": rng.choice(["LOG_ON", "LOG_OFF"]),
                    "subState": rng.choice(["WRAPUP", "READY", "BUSY"]),
                },
            }
        else:
            event = {"eventName": "OnCallCreated", "callRef": f"anon{serial}", "legs": []}
        events.append((at, event))
    return events


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


async def record() -> dict[str, Any]:
    """Run the workload offline: every trace, the live executions, actions and drops."""
    traces_kept = TraceStore(recent=100_000, failed=100_000, drops=100_000)
    run = OfflineEngine(flows(), start=START, traces=traces_kept)
    for at, event in workload():
        await run.feed(event, at=START + at)
    engine = run.engine
    executions = sorted(
        ([e.flow, e.key, e.state, e.visit, e.vars, e.deadlines] for e in engine.executions()),
        key=repr,
    )
    await engine.stop()
    traces = []
    for trace in engine.traces:
        view = trace.to_dict()
        for entry in view["entries"]:
            entry.pop("ms", None)  # the time an action took is not behaviour
        traces.append(view)
    drops = [[str(drop.flow), drop.name, drop.reason] for drop in engine.traces.drops()]
    result = {
        "traces": traces,
        "executions": executions,
        "actions": [record.line(timed=True) for record in run.records()],
        "drops": drops,
        "drop_count": engine.traces.drop_count,
        "sent": [[method, kwargs] for method, kwargs in run.sent()],
    }
    return _plain(result)


def test_the_recorded_workload_gives_the_same_traces_states_and_actions():
    expected = json.loads(DATA.read_text())
    actual = asyncio.run(record())
    assert len(actual["traces"]) == len(expected["traces"])
    for got, want in zip(actual["traces"], expected["traces"], strict=True):
        assert got == want
    assert actual["executions"] == expected["executions"]
    assert actual["actions"] == expected["actions"]
    assert actual["sent"] == expected["sent"]
    assert actual["drops"] == expected["drops"]
    assert actual["drop_count"] == expected["drop_count"]


def test_the_workload_exercises_what_the_index_and_hot_path_change():
    expected = json.loads(DATA.read_text())
    outcomes = {trace["outcome"] for trace in expected["traces"]}
    assert {"ended", "restarted", "stopped"} <= outcomes
    flows_started = {trace["flow"] for trace in expected["traces"]}
    assert {"vip-any", "literal-list-any", "reversed-any", "unindexed-any"} <= flows_started
    kinds = {entry["kind"] for trace in expected["traces"] for entry in trace["entries"]}
    assert {"event", "condition", "transition", "action", "timer"} <= kinds
    assert expected["executions"] and expected["sent"] and expected["drops"]


if __name__ == "__main__":
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(asyncio.run(record()), indent=None, sort_keys=True) + "\n")
