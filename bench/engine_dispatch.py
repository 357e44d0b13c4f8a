"""Engine benchmark: 200 flows, 10,000 live executions, one core, actions recorded, no network.

    python bench/engine_dispatch.py [--events 100000] [--live 10000] [--gc-live 100000]
                                    [--many 1000] [--section all|dispatch|gc|many]
                                    [--gc-threshold N]

**dispatch**: a stream of O2G events (calls ringing, answered, held, hanging up; agents
going to wrap-up; events no flow wants) reaches the engine as a live stream does: each
event is decoded from its JSON line just before it is dispatched, and the call serial
never repeats. About a third of new calls are never answered: their 0.2 s ring timer fires
inside the timed run and redirects them (an action through a ``RecordingGateway``); VIP
callers are answered by rules; agents in wrap-up get READY before their 0.2 s timer.
Timers still pending at the end fire before the clock stops (the wait is not counted).
Traces are on. Compared, in the same run, with:

- the **floor**: the same events decoded, then only the engine's own compiled expressions
  that dispatch evaluated for them (recorded in a first pass), each over a context built
  as the engine builds it: what evaluating the flows costs with no engine around them;
- a **hand-written** asyncio handler doing the same work as a user would write it: the
  event dicts, a dict of per-call state per flow, ``loop.call_later`` timers, the actions
  sent to the same recording gateway (no traces, no store, no hot reload).

Memory per live execution includes what it retains (its events, trace, timer). GC pauses
are timed with ``gc.callbacks``.

**gc**: ``--gc-live`` executions live at once: the pause of a full collection, without and
with ``gc.freeze()`` after loading them.

**many**: ``--many`` flows for every user (``users: "*"``) on ``OnCallCreated``, each with
its own constant caller number, against one such flow: events/s and the ratio.

Targets (issue 12): >= 100,000 events/s, <= 2x the floor, no full-GC pause over 50 ms at
100,000 live executions, 1,000 flows on one event <= 3x one flow.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from o2g_flows.engine.expressions import EvaluationError, Expression
from o2g_flows.engine.gateway import RecordingGateway
from o2g_flows.engine.loader import load_text
from o2g_flows.engine.runtime import Engine
from o2g_flows.engine.timers import LoopTimers
from o2g_flows.engine.trace import TraceStore
from o2g_flows.plugins import Registry

USERS = [f"u{i:04d}" for i in range(1000)]
AGENTS = [f"a{i:03d}" for i in range(100)]
RING = 0.2  # seconds before an unanswered call goes to voicemail (answers come sooner)
WRAPUP = 0.2  # seconds of wrap-up before an agent is made ready (READY comes sooner)
VIPS = [f"+3314000{n:04d}" for n in range(80)]
OTHER = "+33140009999"

_MACHINE = """
flow: no-answer-{n}
key: event.callRef
users: [{users}]
vars: {{ring: {ring}, voicemail: "3000"}}
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
    on:
      OnCallRemoved: {{goto: end}}
"""

_RULE = """
flow: vip-{n}
users: [{users}]
vars: {{vips: ["{vip}", "+33140000001"]}}
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
    after: {{seconds: {wrapup}, goto: ready}}
    on:
      OnAgentStateChanged:
        - {{when: "event.state.subState == 'READY'", goto: end}}
        - {{when: "event.state.mainState == 'LOG_OFF'", goto: end}}
  ready:
    enter:
      - agent_ready: {{}}
    goto: end
"""

_ANY = """
flow: caller-{n}
users: "*"
on: OnCallCreated
when: >-
  event.legs[0].state == 'RINGING_INCOMING'
  && event.participants[0].identity.id.phoneNumber == '{number}'
do:
  - answer: {{}}
"""


def _load(texts: list[str], registry: Registry) -> list[Any]:
    flows = []
    for n, text in enumerate(texts):
        result = load_text(text, f"bench-{n}.yaml", registry)
        if result.errors:
            raise SystemExit(result.report())
        flows.extend(result.flows)
    return flows


def machine_groups() -> list[list[str]]:
    return [USERS[n * 10 : n * 10 + 10] for n in range(100)]


def rule_groups() -> list[list[str]]:
    return [USERS[n * 12 : n * 12 + 12] for n in range(80)]


def agent_groups() -> list[list[str]]:
    return [AGENTS[n * 5 : n * 5 + 5] for n in range(20)]


def build_flows(registry: Registry) -> list[Any]:
    texts = [
        _MACHINE.format(n=n, users=", ".join(group), ring=RING)
        for n, group in enumerate(machine_groups())
    ]
    texts += [
        _RULE.format(n=n, users=", ".join(group), vip=VIPS[n])
        for n, group in enumerate(rule_groups())
    ]
    texts += [
        _AGENT.format(n=n, users=", ".join(group), wrapup=WRAPUP)
        for n, group in enumerate(agent_groups())
    ]
    return _load(texts, registry)


# -- events, as O2G sends them ---------------------------------------------------------------


def call_created(ref: str, login: str, caller: str = OTHER) -> dict[str, Any]:
    number = "2" + login[1:]
    return {
        "eventName": "OnCallCreated",
        "loginName": login,
        "callRef": ref,
        "callData": {
            "initialCalled": {"id": {"phoneNumber": number}},
            "state": "RINGING_INCOMING",
            "tags": [],
            "capabilities": {"redirect": True, "terminate": True, "transfer": False},
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


def lines(events: list[dict[str, Any]]) -> list[bytes]:
    """The events as the JSON lines of an event stream (bytes: not seen by the GC)."""
    return [orjson.dumps(event) for event in events]


def setup_events(live: int) -> list[dict[str, Any]]:
    """``live`` calls ringing then answered: executions waiting in ``answered``."""
    events = []
    for i in range(live):
        ref, login = f"c{i}", USERS[i % len(USERS)]
        events.append(call_created(ref, login))
        events.append(call_modified(ref, login, "ACTIVE"))
    return events


def workload(count: int, live: int, rng: random.Random) -> list[dict[str, Any]]:
    """Call churn (a call ends, a new one rings: two in three new calls are answered 10 to
    60 events later, the others are left ringing until their timer sends them to
    voicemail), holds and resumes of answered calls, agents going to wrap-up and back to
    READY 10 to 60 events later, VIP callers, events no flow wants.

    What the timers find does not depend on how fast the events are handled: a ringing
    call and an agent in wrap-up get no other event before their answer or READY."""
    calls = [(f"c{i}", USERS[i % len(USERS)]) for i in range(live)]  # answered: churned
    agents = list(AGENTS)  # not in wrap-up
    later: list[tuple[int, int, dict[str, Any], Any]] = []  # (due, serial, event, then)
    serial = live
    events: list[dict[str, Any]] = []
    while len(events) < count:
        if later and later[0][0] <= len(events):
            _, _, event, then = heapq.heappop(later)
            events.append(event)
            then()
            continue
        roll = rng.random()
        index = rng.randrange(len(calls))
        ref, login = calls[index]
        if roll < 0.2:
            events.append(call_removed(ref, login))
            calls[index] = calls[-1]
            calls.pop()
            serial += 1
            fresh = (f"c{serial}", rng.choice(USERS))
            caller = rng.choice(VIPS) if rng.random() < 0.1 else OTHER
            events.append(call_created(*fresh, caller=caller))
            if rng.random() < 0.67:
                due = len(events) + rng.randrange(10, 60)
                answer = call_modified(*fresh, "ACTIVE")
                heapq.heappush(later, (due, serial, answer, partial(calls.append, fresh)))
        elif roll < 0.6:
            events.append(call_modified(ref, login, rng.choice(["ACTIVE", "HELD", "ACTIVE"])))
        elif roll < 0.7 and agents:
            agent = agents.pop(rng.randrange(len(agents)))
            events.append(agent_state(agent, "WRAPUP"))
            serial += 1
            due = len(events) + rng.randrange(10, 60)
            ready = agent_state(agent, "READY")
            heapq.heappush(later, (due, serial, ready, partial(agents.append, agent)))
        elif roll < 0.75:
            events.append(agent_state(rng.choice(AGENTS), "BUSY"))
        else:
            events.append({"eventName": "OnUserStateModified", "loginName": login, "state": "BUSY"})
    return events[:count]


# -- measuring -------------------------------------------------------------------------------


class Pauses:
    """GC pauses, timed with ``gc.callbacks``, per generation."""

    def __init__(self) -> None:
        self.by_generation: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __enter__(self) -> Pauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: Any) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.by_generation[info["generation"]].append(time.perf_counter() - self._started)

    def total(self) -> float:
        """Seconds spent collecting."""
        return sum(sum(pauses) for pauses in self.by_generation.values())

    def line(self) -> str:
        parts = []
        for generation, pauses in self.by_generation.items():
            worst = max(pauses, default=0.0) * 1000
            parts.append(f"gen{generation} {len(pauses)}x max {worst:.1f} ms")
        return ", ".join(parts) + f"; {self.total() * 1000:,.0f} ms in all"


async def drive(
    stream: list[bytes], dispatch: Callable[[dict[str, Any]], None], idle: Callable[[], Any]
) -> float:
    """Seconds to decode and dispatch ``stream``, letting the loop run (actions, timers)
    every 200 events, then to fire the timers still pending (the wait itself not counted)."""
    loads = orjson.loads
    started = time.perf_counter()
    for chunk in range(0, len(stream), 200):
        for line in stream[chunk : chunk + 200]:
            dispatch(loads(line))
        await asyncio.sleep(0)
        await idle()
    await asyncio.sleep(SETTLE)
    await idle()
    return time.perf_counter() - started - SETTLE


SETTLE = max(RING, WRAPUP) + 0.05


def decode_only(stream: list[bytes]) -> float:
    loads = orjson.loads
    started = time.perf_counter()
    for line in stream:
        loads(line)
    return time.perf_counter() - started


def make_engine(
    flows: list[Any], registry: Registry, index: bool = True
) -> tuple[Engine, RecordingGateway]:
    gateway = RecordingGateway()
    engine = Engine(
        flows,
        gateway,
        registry=registry,
        timers=LoopTimers(),
        traces=TraceStore(recent=1000, failed=1000),
        index_conditions=index,
    )
    return engine, gateway


def record_evaluations(
    engine: Engine, stream: list[bytes]
) -> list[tuple[dict[str, Any], list[tuple[Any, Any, dict[str, Any], list[Expression]]]]]:
    """For each event of ``stream``: the expressions ``engine.dispatch`` evaluated, grouped
    by the context they were evaluated over (key, state, vars)."""
    recorded: list[tuple[Expression, dict[str, Any]]] = []
    original = Expression.evaluate

    def evaluate(self: Expression, context: Any) -> Any:
        recorded.append((self, context))
        return original(self, context)

    plan = []
    Expression.evaluate = evaluate  # type: ignore[method-assign]
    try:
        for line in stream:
            event = orjson.loads(line)
            recorded.clear()
            engine.dispatch(event)
            groups: list[tuple[Any, Any, dict[str, Any], list[Expression]]] = []
            seen: dict[int, list[Expression]] = {}
            for expression, context in recorded:
                if id(context) not in seen:
                    seen[id(context)] = []
                    groups.append(
                        (context["key"], context["state"], context["vars"], seen[id(context)])
                    )
                seen[id(context)].append(expression)
            plan.append((event, groups))
    finally:
        Expression.evaluate = original  # type: ignore[method-assign]
    return plan


def floor_seconds(stream: list[bytes], plan: list[tuple[Any, list[Any]]]) -> float:
    """Decode each event and evaluate the compiled expressions dispatch evaluated for it."""
    loads = orjson.loads
    started = time.perf_counter()
    for line, (_, groups) in zip(stream, plan, strict=True):
        event = loads(line)
        for key, state, variables, expressions in groups:
            context = {"event": event, "key": key, "state": state, "vars": variables, "now": None}
            for expression in expressions:
                try:  # noqa: SIM105 - cheaper than contextlib.suppress in this loop
                    expression.evaluate(context)
                except EvaluationError:
                    pass
    return time.perf_counter() - started


# -- the hand-written handler ----------------------------------------------------------------


class HandWritten:
    """The 200 flows' work written by hand for asyncio, as a user would without o2g-flows."""

    def __init__(self, gateway: RecordingGateway) -> None:
        self.gateway = gateway
        self.loop = asyncio.get_running_loop()
        self.machines: dict[str, int] = {}
        for n, group in enumerate(machine_groups()):
            for user in group:
                self.machines[user] = n
        self.rules: dict[str, list[set[str]]] = {}
        for n, group in enumerate(rule_groups()):
            for user in group:
                self.rules.setdefault(user, []).append({VIPS[n], "+33140000001"})
        self.agents: dict[str, int] = {}
        for n, group in enumerate(agent_groups()):
            for user in group:
                self.agents[user] = n
        self.calls: dict[tuple[int, str], list[Any]] = {}  # [state, timer handle]
        self.wrapping: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def send(self, method: str, kwargs: dict[str, Any], action: str) -> None:
        task = self.loop.create_task(self.gateway.invoke(method, kwargs, action))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def dispatch(self, event: dict[str, Any]) -> None:
        name = event.get("eventName")
        login = event.get("loginName")
        if name == "OnCallCreated":
            self.created(event, login)
        elif name == "OnCallModified":
            n = self.machines.get(login)
            if n is not None:
                self.modified(n, event)
        elif name == "OnCallRemoved":
            n = self.machines.get(login)
            entry = self.calls.pop((n, event.get("callRef")), None) if n is not None else None
            if entry is not None and entry[1] is not None:
                entry[1].cancel()
        elif name == "OnAgentStateChanged":
            self.agent(event, login)

    def created(self, event: dict[str, Any], login: Any) -> None:
        legs = event.get("legs") or [{}]
        ringing = legs[0].get("state") == "RINGING_INCOMING"
        n = self.machines.get(login)
        ref = event.get("callRef")
        if n is not None and ref is not None and (n, ref) not in self.calls:
            call_state = (event.get("callData") or {}).get("state")
            if ringing and call_state != "RELEASING":
                timer = self.loop.call_later(RING, self.no_answer, n, ref, login)
                self.calls[n, ref] = ["ringing", timer]
        vips = self.rules.get(login)
        if vips and ringing:
            participants = event.get("participants") or [{}]
            caller = participants[0].get("identity", {}).get("id", {}).get("phoneNumber")
            device = legs[0].get("deviceId")
            for numbers in vips:
                if caller in numbers:
                    kwargs = {"call_ref": ref, "device_id": device, "login_name": login}
                    self.send("telephony.answer", kwargs, "answer")

    def modified(self, n: int, event: dict[str, Any]) -> None:
        entry = self.calls.get((n, event.get("callRef")))
        if entry is None:
            return
        legs = event.get("modifiedLegs") or [{}]
        state = legs[0].get("state")
        current = entry[0]
        if current == "ringing" or current == "held":
            target = "answered" if state == "ACTIVE" else "held" if state == "HELD" else None
            if current == "held" and target == "held":
                target = None
        elif current == "answered":
            target = "held" if state == "HELD" else None
        else:
            target = None
        if target is not None:
            if entry[1] is not None:
                entry[1].cancel()
                entry[1] = None
            entry[0] = target

    def no_answer(self, n: int, ref: str, login: str) -> None:
        entry = self.calls.get((n, ref))
        if entry is None or entry[0] != "ringing":
            return
        entry[0], entry[1] = "voicemail", None
        kwargs = {"call_ref": ref, "redirect_to": "3000", "anonymous": None, "login_name": login}
        self.send("telephony.redirect", kwargs, "redirect")

    def agent(self, event: dict[str, Any], login: Any) -> None:
        n = self.agents.get(login)
        if n is None:
            return
        state = event.get("state") or {}
        timer = self.wrapping.get((n, login))
        if timer is not None:
            if state.get("subState") == "READY" or state.get("mainState") == "LOG_OFF":
                timer.cancel()
                del self.wrapping[n, login]
        elif state.get("mainState") == "LOG_ON" and state.get("subState") == "WRAPUP":
            self.wrapping[n, login] = self.loop.call_later(WRAPUP, self.ready, n, login)

    def ready(self, n: int, login: str) -> None:
        del self.wrapping[n, login]
        self.send("acd.ready", {"login_name": login}, "agent_ready")

    async def idle(self) -> None:
        while self.tasks:
            await asyncio.sleep(0)


# -- sections --------------------------------------------------------------------------------


def _memory(action: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    action()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


async def section_dispatch(options: argparse.Namespace, registry: Registry) -> None:
    flows = build_flows(registry)
    setup = lines(setup_events(options.live))
    stream = lines(workload(options.events, options.live, random.Random(4)))

    engine, gateway = make_engine(flows, registry)
    await engine.start()
    gc.freeze()  # what was loaded (flows, modules) is not scanned by every collection

    def load_engine() -> None:
        for line in setup:
            engine.dispatch(orjson.loads(line))

    engine_bytes = _memory(load_engine)
    await engine.idle()
    live = len(engine.executions())

    gc.collect()
    with Pauses() as pauses:
        engine_seconds = await drive(stream, engine.dispatch, engine.idle)
    timers_fired = sum(1 for record in gateway.records if record.action != "answer")
    actions = len(gateway.records)
    engine_actions = Counter(record.action for record in gateway.records)
    live_after = len(engine.executions())
    await engine.stop(drain=0)

    hand_gateway = RecordingGateway()
    hand = HandWritten(hand_gateway)

    def load_hand() -> None:
        for line in setup:
            hand.dispatch(orjson.loads(line))

    hand_bytes = _memory(load_hand)
    gc.collect()
    hand_seconds = await drive(stream, hand.dispatch, hand.idle)
    hand_calls = len(hand.calls)

    # the floor: which expressions dispatch evaluates, recorded on an engine of its own
    recorder, _ = make_engine(flows, registry)
    await recorder.start()
    for line in setup:
        recorder.dispatch(orjson.loads(line))
    plan = record_evaluations(recorder, stream)
    evaluations = sum(len(exprs) for _, groups in plan for *_, exprs in groups)
    await recorder.stop(drain=0)
    del recorder
    gc.collect()
    floor = floor_seconds(stream, plan)
    decode = decode_only(stream)

    count = len(stream)
    engine_net = engine_seconds - decode
    floor_net = floor - decode
    hand_net = hand_seconds - decode
    print(f"flows loaded:                 {len(flows)}")
    print(f"live executions:              {live} (after the run: {live_after})")
    print(f"events dispatched:            {count:,} (decoded from JSON lines in the loop)")
    print(
        f"actions sent:                 {actions:,} engine, {len(hand_gateway.records):,} "
        f"hand-written ({actions / count:.1%} of events; {timers_fired:,} after a timer fired)"
    )
    hand_actions = Counter(record.action for record in hand_gateway.records)
    for name in sorted(engine_actions | hand_actions):
        print(
            f"  {name + ':':27} {engine_actions[name]:,} engine, "
            f"{hand_actions[name]:,} hand-written"
        )
    print(f"expressions dispatch evaluated: {evaluations:,} ({evaluations / count:.2f}/event)")
    print(f"JSON decoding alone:          {decode / count * 1e6:.2f} us/event")
    print(
        f"engine:                       {count / engine_seconds:,.0f} events/s, "
        f"{engine_seconds / count * 1e6:.2f} us/event "
        f"({engine_net / count * 1e6:.2f} without decoding)  (target >= 100,000/s)"
    )
    print(
        f"floor (compiled expressions): {count / floor:,.0f} events/s, "
        f"{floor / count * 1e6:.2f} us/event ({floor_net / count * 1e6:.2f} without decoding)"
    )
    print(
        f"hand-written asyncio handler: {count / hand_seconds:,.0f} events/s, "
        f"{hand_seconds / count * 1e6:.2f} us/event ({hand_net / count * 1e6:.2f} without "
        "decoding)"
    )
    print(
        f"engine / floor:               {engine_seconds / floor:.2f}x "
        f"({engine_net / floor_net:.2f}x without decoding)  (target <= 2x)"
    )
    print(
        f"engine / hand-written:        {engine_seconds / hand_seconds:.2f}x "
        f"({engine_net / hand_net:.2f}x without decoding)"
    )
    print(
        f"memory per live execution:    {engine_bytes / max(live, 1) / 1024:.2f} KB engine, "
        f"{hand_bytes / max(hand_calls, 1) / 1024:.2f} KB hand-written "
        "(including the events each retains, its trace and timer)"
    )
    print(
        f"GC pauses in the engine run:  {pauses.line()} "
        f"({pauses.total() / engine_seconds:.0%} of its time)"
    )


async def section_gc(options: argparse.Namespace, registry: Registry) -> None:
    flows = build_flows(registry)
    engine, _ = make_engine(flows, registry)
    await engine.start()
    setup = lines(setup_events(options.gc_live))
    gc.collect()
    gc.freeze()  # the flows and modules loaded: what the app freezes after load
    tracked = len(gc.get_objects())
    with Pauses() as pauses:
        for line in setup:
            engine.dispatch(orjson.loads(line))
    live = len(engine.executions())
    gc.collect()
    tracked = len(gc.get_objects()) - tracked
    gc.unfreeze()
    started = time.perf_counter()
    gc.collect()
    full = time.perf_counter() - started
    started = time.perf_counter()
    gc.collect()
    again = time.perf_counter() - started
    gc.freeze()
    started = time.perf_counter()
    gc.collect()
    frozen = time.perf_counter() - started
    gc.unfreeze()
    print(
        f"live executions:              {live:,} ({tracked / live:.1f} objects tracked by the "
        "GC each, their events included)"
    )
    print(f"GC pauses while loading them: {pauses.line()}")
    print(
        f"full collection:              {full * 1000:.1f} ms, then {again * 1000:.1f} ms; "
        f"{frozen * 1000:.1f} ms once the loaded executions are frozen too (gc.freeze())  "
        "(target <= 50 ms)"
    )
    await engine.stop(drain=0)


async def _many_rate(
    count: int, stream: list[bytes], registry: Registry, index: bool = True
) -> tuple[float, int]:
    rng = random.Random(7)
    numbers = [f"+331{n:08d}" for n in rng.sample(range(100_000), count)]
    flows = _load([_ANY.format(n=n, number=number) for n, number in enumerate(numbers)], registry)
    engine, gateway = make_engine(flows, registry, index)
    await engine.start()
    gc.collect()
    seconds = await drive(stream, engine.dispatch, engine.idle)
    await engine.stop(drain=0)
    return len(stream) / seconds, len(gateway.records)


async def section_many(options: argparse.Namespace, registry: Registry) -> None:
    rng = random.Random(5)
    events = [
        call_created(f"m{i}", rng.choice(USERS), f"+331{rng.randrange(100_000):08d}")
        for i in range(options.events // 2)
    ]
    stream = lines(events)
    one, one_actions = await _many_rate(1, stream, registry)
    many, many_actions = await _many_rate(options.many, stream, registry)
    print(f'OnCallCreated events:         {len(stream):,}, users: "*" rules on a caller number')
    print(f"1 flow:                       {one:,.0f} events/s ({one_actions} actions)")
    print(f"{options.many:,} flows:                  {many:,.0f} events/s ({many_actions} actions)")
    print(f"cost of {options.many:,} flows / 1 flow:    {one / many:.2f}x  (target <= 3x)")
    unindexed, _ = await _many_rate(options.many, stream[:5000], registry, index=False)
    print(
        f"{options.many:,} flows, no index:        {unindexed:,.0f} events/s (the first 5,000 "
        f"events; {one / unindexed:.0f}x one flow)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=10_000)
    parser.add_argument("--gc-live", type=int, default=100_000)
    parser.add_argument("--many", type=int, default=1000)
    parser.add_argument("--section", choices=["all", "dispatch", "gc", "many"], default="all")
    parser.add_argument(
        "--gc-threshold",
        type=int,
        help="the youngest generation's GC threshold (gc.set_threshold), as an app may tune it",
    )
    options = parser.parse_args()
    if options.gc_threshold:
        gc.set_threshold(options.gc_threshold, *gc.get_threshold()[1:])
    registry = Registry.builtin()
    sections: dict[str, Callable[..., Any]] = {
        "dispatch": section_dispatch,
        "gc": section_gc,
        "many": section_many,
    }
    for name, section in sections.items():
        if options.section in ("all", name):
            print(f"== {name}")
            await section(options, registry)


if __name__ == "__main__":
    asyncio.run(main())
