"""The condition index: which shapes it indexes, and that an engine using it does exactly
what one evaluating every start condition does (property-based, on generated flows and
events)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2g_flows.engine import load_text
from o2g_flows.engine.condition_index import indexed_tests
from o2g_flows.engine.expressions import expression
from o2g_flows.engine.registry import Registry
from o2g_flows.engine.testing import OfflineEngine
from o2g_flows.engine.trace import TraceStore

START = 1_736_154_000.0
PATHS = ["event.a", "event.b[0].c", "event.legs[0].state", "event.callRef"]
TEXTS = ["x", "y", "z"]
VARS = {"s": "x", "l": ["x", "y"], "n": ["x", 1], "k": "K"}


def _tests(source: str) -> Any:
    table = Registry.builtin().functions
    return indexed_tests(expression(source, table), VARS)


def test_the_indexed_shapes():
    legs = ("legs", 0, "state")
    assert _tests("event.legs[0].state == 'RINGING'") == [(legs, {"RINGING"})]
    assert _tests("'RINGING' == event.legs[0].state") == [(legs, {"RINGING"})]
    assert _tests('event.a == `"x"`') == [(("a",), {"x"})]
    assert _tests("contains(['x', 'y'], event.a)") == [(("a",), {"x", "y"})]
    assert _tests('contains(`["x"]`, event.a)') == [(("a",), {"x"})]
    assert _tests("contains(vars.l, event.a)") == [(("a",), {"x", "y"})]
    assert _tests("event.a == vars.s") == [(("a",), {"x"})]
    assert _tests("vars.s == event.a") == [(("a",), {"x"})]
    # the indexable conjuncts of a conjunction, however nested
    assert _tests("event.a == 'x' && length(event.b) > `1` && (event.x && event.c == 'y')") == [
        (("a",), {"x"}),
        (("c",), {"y"}),
    ]


def test_what_is_not_indexed():
    for source in [
        "event.a == 'x' || event.b == 'y'",  # a disjunction
        "event.a != 'x'",
        "event.a == `1`",  # numbers: JMESPath and Python equality differ on booleans
        "contains(vars.n, event.a)",  # a list that is not all text
        "contains('xyz', event.a)",  # a substring test
        "contains(event.list, 'x')",
        "!(event.a == 'x')",
        "event.a[*].b == 'x'",  # a projection, not a plain path
        "vars.s == 'x'",  # no event path
        "event.a == event.b",
        "event.a == vars.missing",
    ]:
        assert _tests(source) == [], source


ATOMS = [
    "{path} == '{text}'",
    "'{text}' == {path}",
    "contains(['{text}', 'z'], {path})",
    "contains(vars.l, {path})",
    "{path} == vars.s",
    "contains(vars.n, {path})",
    "{path} != '{text}'",
    "{path} == `1`",
    "length({path}) > `1`",
    "{path}",
]

INDEXABLE = ATOMS[:5]


def _atoms(forms: list[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda form, path, text: form.format(path=path, text=text),
        st.sampled_from(forms),
        st.sampled_from(PATHS),
        st.sampled_from(TEXTS),
    )


atoms, indexable = _atoms(ATOMS), _atoms(INDEXABLE)
conditions = st.one_of(
    indexable,
    st.builds(lambda a, b: f"{a} && {b}", indexable, atoms),
    st.builds(lambda a, b, c: f"{a} && ({b} && {c})", atoms, atoms, indexable),
    atoms,
    st.builds(lambda a, b: f"{a} || {b}", atoms, atoms),
    st.builds(lambda a: f"!({a})", atoms),
    st.none(),
)
flow_specs = st.tuples(
    conditions,
    st.sampled_from(["rule", "rule", "machine"]),
    st.sampled_from([None, "event.callRef", "event.a", None, "vars.k"]),
    st.sampled_from(["*", "*", "*", "[alice]"]),
    st.sampled_from(["single", "parallel", "restart"]),
    st.one_of(st.none(), st.none(), st.none(), conditions),  # a second start handler
)


def _flow_text(n: int, spec: tuple[Any, ...]) -> str:
    condition, kind, key, users, mode, second = spec
    lines = [f"flow: f{n}", f"users: {users!r}" if users == "*" else f"users: {users}"]
    lines.append("vars: {s: x, l: [x, y], n: [x, 1], k: K}")
    if key is not None:
        lines.append(f"key: {key}")
    if kind == "rule" and second is None:
        lines.append("on: OnCallCreated")
        if condition is not None:
            lines.append(f"when: {condition!r}")
        lines.append(f"do:\n  - log: 'f{n} ${{event.a}}'")
        return "\n".join(lines) + "\n"
    lines.append(f"mode: {mode}")
    lines.append("start:")
    for when in (condition, second) if kind == "machine" or second else (condition,):
        lines.append("  - on: OnCallCreated")
        if when is not None:
            lines.append(f"    when: {when!r}")
        lines.append("    goto: waiting")
    lines.append("states:\n  waiting:\n    on:\n      OnCallRemoved: {goto: end}")
    return "\n".join(lines) + "\n"


values = st.one_of(st.sampled_from(TEXTS), st.sampled_from([None, 1, True, ["x"], {"c": "x"}]))
events = st.one_of(
    st.builds(
        lambda a, c, state, ref, login, drop: {
            key: value
            for key, value in {
                "eventName": "OnCallCreated",
                "a": a,
                "b": [{"c": c}],
                "legs": [{"state": state}],
                "callRef": ref,
                "loginName": login,
            }.items()
            if key not in drop
        },
        values,
        values,
        values,
        st.sampled_from(["x", "y", "c1", None, ["l"]]),
        st.sampled_from(["alice", "bob"]),
        st.sets(st.sampled_from(["a", "b", "legs", "callRef", "loginName"]), max_size=2),
    ),
    st.builds(
        lambda ref, a: {"eventName": "OnCallRemoved", "callRef": ref, "a": a, "loginName": "alice"},
        st.sampled_from(["x", "y", "c1"]),
        st.sampled_from(TEXTS),
    ),
)


async def _run(texts: list[str], stream: list[dict[str, Any]], indexed: bool) -> dict[str, Any]:
    registry = Registry.builtin()
    flows = []
    for n, text in enumerate(texts):
        result = load_text(text, f"f{n}.yaml", registry)
        assert not result.errors, result.report() + text
        flows.extend(result.flows)
    traces = TraceStore(recent=10_000, failed=10_000, drops=10_000)
    run = OfflineEngine(flows, start=START, traces=traces, index_conditions=indexed)
    engine = run.engine
    used = any(listeners.conditions is not None for listeners in engine._index._by_name.values())
    for event in stream:
        await run.feed(event)
    states = sorted((e.flow, repr(e.key), e.state) for e in engine.executions())
    await engine.stop()
    views = []
    for trace in engine.traces:
        view = trace.to_dict()
        for entry in view["entries"]:
            entry.pop("ms", None)
        views.append(view)
    drops = [(drop.flow, drop.name, drop.reason) for drop in engine.traces.drops()]
    return {"traces": views, "states": states, "drops": drops, "used": used}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(flow_specs, min_size=6, max_size=14),
    st.lists(events, min_size=1, max_size=25),
)
def test_the_index_gives_what_evaluating_every_condition_gives(specs, stream):
    texts = [_flow_text(n, spec) for n, spec in enumerate(specs)]
    indexed = asyncio.run(_run(texts, stream, indexed=True))
    plain = asyncio.run(_run(texts, stream, indexed=False))
    assert not plain["used"]
    assert indexed["traces"] == plain["traces"]
    assert indexed["states"] == plain["states"]
    assert indexed["drops"] == plain["drops"]


def test_the_index_offers_an_event_only_to_the_flows_it_may_start():
    numbers = [f"+3314{n:06d}" for n in range(1000)]
    text = (
        "flow: caller-{n}\nusers: '*'\non: OnCallCreated\n"
        "when: \"event.legs[0].state == 'RINGING' && event.caller == '{number}'\"\n"
        "do:\n  - answer: {{}}\n"
    )
    registry = Registry.builtin()
    flows = [
        flow
        for n, number in enumerate(numbers)
        for flow in load_text(text.format(n=n, number=number), f"{n}.yaml", registry).flows
    ]
    run = OfflineEngine(flows, start=START)
    event = {
        "eventName": "OnCallCreated",
        "loginName": "alice",
        "callRef": "c1",
        "caller": numbers[500],
        "legs": [{"state": "RINGING"}],
    }
    offered = run.engine._index.listeners("OnCallCreated", "alice", event)
    assert len(offered) == 1  # on the caller test: the RINGING one matches every flow
    asyncio.run(run.feed(event))
    assert run.names() == ["answer"]
