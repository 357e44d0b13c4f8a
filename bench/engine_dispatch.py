"""Engine dispatch benchmark: 200 flows, 10,000 live executions, one core, no network.

Prints events per second through dispatch, conditions, transitions and (recorded) actions,
next to the floor of the same events passed only through the compiled JMESPath of the
flows that listen to them; and the memory each live execution costs the engine.

    python bench/engine_dispatch.py [--events 100000] [--live 10000]

Targets (issue 4): at least 20,000 events/s, at most 3x the floor, at most 2 KB per live
execution.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
import tracemalloc
from typing import Any

from o2g_flows.engine.expressions import EvaluationError
from o2g_flows.engine.gateway import RecordingGateway
from o2g_flows.engine.loader import load_text
from o2g_flows.engine.runtime import Engine
from o2g_flows.engine.timers import LoopTimers
from o2g_flows.engine.trace import TraceStore
from o2g_flows.plugins import Registry

USERS = [f"u{i:04d}" for i in range(1000)]
AGENTS = [f"a{i:03d}" for i in range(100)]

_MACHINE = """
flow: no-answer-{n}
key: event.callRef
users: [{users}]
vars: {{ring: 30, voicemail: "3000"}}
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING' && event.callData.state != 'RELEASING'"
  goto: ringing
states:
  ringing:
    after: {{seconds: "${{vars.ring}}", goto: voicemail}}
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
    on:
      OnCallModified: {{when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}}
      OnCallRemoved: {{goto: end}}
  voicemail:
    enter:
      - redirect: {{call: "${{key}}", to: "${{vars.voicemail}}"}}
    goto: end
"""

_RULE = """
flow: vip-{n}
users: [{users}]
vars: {{vips: ["+3314000{n:04d}", "+33140000001"]}}
on: OnCallCreated
when: >-
  event.legs[0].state == 'RINGING_INCOMING'
  && contains(vars.vips, event.participants[0].identity.id.phoneNumber)
do:
  - answer: {{}}
"""

_AGENT = """
flow: wrapup-{n}
key: event.loginName
users: [{users}]
start:
  on: OnAgentStateChanged
  when: "event.state.mainState == 'LOG_ON' && event.state.subState == 'WRAPUP'"
  goto: wrapping
states:
  wrapping:
    after: {{seconds: 45, goto: ready}}
    on:
      OnAgentStateChanged:
        - {{when: "event.state.subState == 'READY'", goto: end}}
        - {{when: "event.state.mainState == 'LOG_OFF'", goto: end}}
  ready:
    enter:
      - agent_ready: {{}}
    goto: end
"""


def build_flows(registry: Registry) -> list[Any]:
    texts = []
    for n in range(100):
        group = ", ".join(USERS[n * 10 : n * 10 + 10])
        texts.append(_MACHINE.format(n=n, users=group))
    for n in range(80):
        group = ", ".join(USERS[n * 12 : n * 12 + 12])
        texts.append(_RULE.format(n=n, users=group))
    for n in range(20):
        group = ", ".join(AGENTS[n * 5 : n * 5 + 5])
        texts.append(_AGENT.format(n=n, users=group))
    flows = []
    for n, text in enumerate(texts):
        result = load_text(text, f"bench-{n}.yaml", registry)
        if result.errors:
            raise SystemExit(result.report())
        flows.extend(result.flows)
    return flows


def call_created(ref: str, login: str, caller: str = "+33140000099") -> dict[str, Any]:
    number = "2" + login[1:]
    return {
        "eventName": "OnCallCreated",
        "loginName": login,
        "callRef": ref,
        "callData": {
            "initialCalled": {"id": {"phoneNumber": number}},
            "state": "RINGING_INCOMING",
            "tags": [],
            "capabilities": {"redirect": True, "terminate": True},
        },
        "legs": [
            {"deviceId": number, "state": "RINGING_INCOMING", "capabilities": {"answer": True}}
        ],
        "participants": [
            {
                "participantId": caller,
                "identity": {"id": {"phoneNumber": caller}, "type": {"main": "EXTERNAL"}},
            }
        ],
        "deviceCapabilities": [{"deviceId": number, "makeCall": True}],
    }


def call_modified(ref: str, login: str, state: str) -> dict[str, Any]:
    number = "2" + login[1:]
    return {
        "eventName": "OnCallModified",
        "loginName": login,
        "callRef": ref,
        "callData": {"state": state},
        "modifiedLegs": [{"deviceId": number, "state": state}],
        "addedLegs": [],
        "removedLegs": [],
        "modifiedParticipants": [],
        "addedParticipants": [],
        "removedParticipantIds": [],
        "deviceCapabilities": [],
    }


def call_removed(ref: str, login: str) -> dict[str, Any]:
    return {
        "eventName": "OnCallRemoved",
        "loginName": login,
        "callRef": ref,
        "cause": "CLEARED",
        "deviceCapabilities": [],
    }


def agent_state(login: str, sub: str) -> dict[str, Any]:
    return {
        "eventName": "OnAgentStateChanged",
        "loginName": login,
        "state": {
            "mainState": "LOG_ON",
            "subState": sub,
            "proAcdDeviceNumber": "2301",
            "pgNumber": "5100",
        },
    }


def workload(count: int, live_refs: list[tuple[str, str]], rng: random.Random) -> list[dict]:
    """A mix of call churn, call state changes, agent states and events no flow wants."""
    events: list[dict[str, Any]] = []
    serial = len(live_refs)
    while len(events) < count:
        roll = rng.random()
        index = rng.randrange(len(live_refs))
        ref, login = live_refs[index]
        if roll < 0.25:  # a call ends, a new one rings: the live count stays the same
            events.append(call_removed(ref, login))
            serial += 1
            fresh = (f"c{serial}", rng.choice(USERS))
            live_refs[index] = fresh
            events.append(call_created(*fresh))
        elif roll < 0.70:
            events.append(call_modified(ref, login, rng.choice(["ACTIVE", "HELD", "ACTIVE"])))
        elif roll < 0.85:
            events.append(agent_state(rng.choice(AGENTS), rng.choice(["WRAPUP", "READY", "BUSY"])))
        else:
            events.append({"eventName": "OnUserStateModified", "loginName": login, "state": "BUSY"})
    return events[:count]


def floor_rate(
    engine: Engine, events: list[dict[str, Any]], registry: Registry, compiled_by: str
) -> float:
    """Events/s through only the compiled JMESPath of the flows listening to each event.

    For each event, each flow listening to its name and user evaluates its key and every
    condition it attaches to that event name (start and state handlers); nothing else (no
    executions, no transitions, no actions). ``compiled_by`` is ``jmespath`` (the library's
    ``ParsedResult.search``) or ``engine`` (the engine's compiled expressions).
    """
    import jmespath

    options = jmespath.Options(custom_functions=registry.functions.functions())
    compiled: dict[tuple[str, str], tuple[dict, Any, list[Any]]] = {}

    def search(expression: Any) -> Any:
        if compiled_by == "engine":
            return expression.evaluate
        parsed = jmespath.compile(expression.source)
        return lambda context: parsed.search(context, options=options)

    def entry(runtime: Any, name: str) -> tuple[dict, Any, list[Any]]:
        flow = runtime.flow
        if (flow.name, name) not in compiled:
            whens = [h.when for h in flow.start if name in h.events and h.when]
            for state in flow.states.values():
                whens.extend(h.when for h in state.on.get(name, ()) if h.when)
            compiled[flow.name, name] = (flow.vars, search(flow.key), [search(w) for w in whens])
        return compiled[flow.name, name]

    table: dict[str, tuple[list[Any], dict[str, list[Any]]]] = {}
    for name, listeners in engine._index._by_name.items():
        everyone = [entry(runtime, name) for runtime in listeners.everyone]
        by_user = {
            user: [entry(runtime, name) for runtime in runtimes]
            for user, runtimes in listeners.by_user.items()
        }
        table[name] = (everyone, by_user)
    started = time.perf_counter()
    for event in events:
        found = table.get(event["eventName"])
        if found is None:
            continue
        for variables, key, whens in found[1].get(event.get("loginName"), found[0]):
            context = {"event": event, "key": None, "state": None, "vars": variables, "now": None}
            context["key"] = key(context)
            for when in whens:
                try:  # noqa: SIM105 - cheaper than contextlib.suppress in this loop
                    when(context)
                except (jmespath.exceptions.JMESPathError, EvaluationError):
                    pass
    return len(events) / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=10_000)
    options = parser.parse_args()
    rng = random.Random(4)
    registry = Registry.builtin()
    flows = build_flows(registry)
    gateway = RecordingGateway()
    engine = Engine(
        flows,
        gateway,
        registry=registry,
        timers=LoopTimers(),
        traces=TraceStore(recent=1000, failed=1000),
    )
    await engine.start()

    live_refs = [(f"c{i}", USERS[i % len(USERS)]) for i in range(options.live)]
    created = [call_created(ref, login) for ref, login in live_refs]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for event in created:
        engine.dispatch(event)
    await engine.idle()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    live = len(engine.executions())
    per_execution = (after - before) / max(live, 1)

    events = workload(options.events, live_refs, rng)
    gateway.records.clear()
    started = time.perf_counter()
    for chunk in range(0, len(events), 200):
        for event in events[chunk : chunk + 200]:
            engine.dispatch(event)
        await engine.idle()
        gateway.records.clear()
    elapsed = time.perf_counter() - started
    rate = len(events) / elapsed
    floor = floor_rate(engine, events, registry, "jmespath")
    own_floor = floor_rate(engine, events, registry, "engine")
    live_after = len(engine.executions())
    await engine.stop()

    print(f"flows loaded:                 {len(flows)}")
    print(f"live executions:              {live} (after the run: {live_after})")
    print(f"events dispatched:            {len(events)}")
    print(f"engine events/s:              {rate:,.0f}  (target >= 20,000)")
    print(f"JMESPath-only floor events/s: {floor:,.0f}  (ParsedResult.search)")
    print(f"engine cost / floor cost:     {floor / rate:.2f}x  (target <= 3x)")
    print(
        f"same floor, engine closures:  {own_floor:,.0f}  (engine cost / this: "
        f"{own_floor / rate:.2f}x)"
    )
    print(
        f"memory per live execution:    {per_execution / 1024:.2f} KB  (target <= 2 KB; "
        "includes its timer and trace, not the event dicts it references)"
    )


if __name__ == "__main__":
    asyncio.run(main())
