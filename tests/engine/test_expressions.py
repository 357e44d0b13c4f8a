"""Expressions and templates: JMESPath over {event, key, state, vars, now}, ${...} values."""

from __future__ import annotations

import pytest

from o2g_flows.engine.expressions import (
    EvaluationError,
    Expression,
    ExpressionError,
    compile_value,
    render,
)
from o2g_flows.engine.registry import Registry

TABLE = Registry.builtin().functions
EVENT = {
    "eventName": "OnCallCreated",
    "loginName": "alice",
    "callRef": "c1",
    "legs": [{"deviceId": "2001", "state": "RINGING_INCOMING"}],
    "participants": [
        {"participantId": "+33140000001", "identity": {"id": {"phoneNumber": "+33140000001"}}}
    ],
}
NOW = {"time": "09:30:00", "weekday": "mon", "hour": 9}
CONTEXT = {
    "event": EVENT,
    "key": "c1",
    "state": "ringing",
    "vars": {"n": 3, "vips": []},
    "now": NOW,
}


def value(text: str) -> object:
    return render(compile_value(text, TABLE), CONTEXT)


def test_a_whole_template_keeps_the_expression_type():
    assert value("${vars.n}") == 3
    assert value("${event.legs}") == EVENT["legs"]
    assert value("${event.missing}") is None


def test_templates_inside_text_are_formatted():
    assert value("call ${key} from ${remote_number(event)}") == "call c1 from +33140000001"
    assert value("n=${vars.n} ok=${`true`} none=[${event.missing}]") == "n=3 ok=true none=[]"
    assert value("legs ${event.legs[*].deviceId}") == 'legs ["2001"]'


def test_dollar_dollar_escapes_a_template():
    assert value("costs $${vars.n}") == "costs ${vars.n}"


def test_braces_inside_expressions_do_not_end_the_template():
    assert value("${ {d: event.legs[0].deviceId} }") == {"d": "2001"}
    assert value("${'}'}!") == "}!"


def test_nested_structures_are_rendered_recursively():
    compiled = compile_value({"a": ["${key}", 2], "b": "plain"}, TABLE)
    assert render(compiled, CONTEXT) == {"a": ["c1", 2], "b": "plain"}
    assert compile_value({"a": [1], "b": "plain"}, TABLE) == {"a": [1], "b": "plain"}


def test_malformed_templates_name_the_offset():
    with pytest.raises(ExpressionError) as caught:
        compile_value("x ${event.legs[}", TABLE)
    assert caught.value.offset == 15
    with pytest.raises(ExpressionError, match="unclosed"):
        compile_value("x ${event", TABLE)


def test_missing_fields_make_conditions_false_not_errors():
    condition = Expression("event.modifiedLegs[0].state == 'ACTIVE'", TABLE)
    assert condition.test(CONTEXT) is False


def test_jmespath_truth_rules():
    assert Expression("`0`", TABLE).test(CONTEXT) is True
    for falsy in ("''", "`[]`", "`{}`", "`null`", "`false`"):
        assert Expression(falsy, TABLE).test(CONTEXT) is False


def test_type_errors_at_run_time_are_evaluation_errors():
    with pytest.raises(EvaluationError, match="contains"):
        Expression("contains(event.nothing, 'x')", TABLE).evaluate(CONTEXT)


def test_time_and_weekday_windows():
    assert Expression("time_in(now, '08:00-12:00,14:00-18:00')", TABLE).test(CONTEXT)
    assert not Expression("time_in(now, '12:00-14:00')", TABLE).test(CONTEXT)
    assert Expression("time_in('23:30', '22:00-06:00')", TABLE).test(CONTEXT)
    assert Expression("time_in('05:59', '22:00-06:00')", TABLE).test(CONTEXT)
    assert not Expression("time_in('06:00', '22:00-06:00')", TABLE).test(CONTEXT)
    assert Expression("weekday_in(now, 'mon-fri')", TABLE).test(CONTEXT)
    assert not Expression("weekday_in(now, 'sat,sun')", TABLE).test(CONTEXT)
    assert Expression("weekday_in('sun', 'fri-mon')", TABLE).test(CONTEXT)


def test_regex_and_numbers():
    assert Expression("regex_match(remote_number(event), '^\\+331')", TABLE).test(CONTEXT)
    assert not Expression("regex_match(event.missing, 'x')", TABLE).test(CONTEXT)
    assert (
        Expression("normalize_number('01 40 00 00 01', '33')", TABLE).evaluate(CONTEXT)
        == "+33140000001"
    )
    assert Expression("normalize_number('0033-1-40')", TABLE).evaluate(CONTEXT) == "+33140"
    assert Expression("lower('ABC')", TABLE).evaluate(CONTEXT) == "abc"


def test_guards_see_call_and_agent_but_conditions_do_not():
    with pytest.raises(ExpressionError, match="unknown name 'call'"):
        Expression("call.legs", TABLE)
    from o2g_flows.engine.expressions import GUARD_NAMES

    assert Expression("call.legs[0].state", TABLE, GUARD_NAMES).names == {"call"}


def test_names_inside_projections_are_not_context_names():
    expression = Expression("event.legs[?state == 'RINGING_INCOMING'].deviceId", TABLE)
    assert expression.names == {"event"}
    assert expression.evaluate(CONTEXT) == ["2001"]


def test_plugin_functions_are_callable_and_checked():
    registry = Registry.builtin()

    @registry.function("double", "number")
    def double(x):
        return x * 2

    assert Expression("double(vars.n)", registry.functions).evaluate(CONTEXT) == 6
    with pytest.raises(ExpressionError, match="takes 1 argument, got 2"):
        Expression("double(`1`, `2`)", registry.functions)


CORPUS = [
    "event.callRef",
    "event.legs[0].state",
    "event.legs[1].state",
    "event.legs[-1].deviceId",
    "event.legs[0].state == 'RINGING_INCOMING'",
    "event.legs[0].state != 'ACTIVE'",
    "event.callRef || event.loginName",
    "event.missing || `0`",
    "event.missing && event.callRef",
    "event.count > `2` && event.count <= `10`",
    "event.count < 'a'",
    "event.name >= 'b'",
    "!(event.missing)",
    "!(event.count)",
    "!(event.zero)",
    "!(event.legs)",
    "!`[]`",
    "event.flag == `true`",
    "event.one == `true`",
    "event.zero == `false`",
    "`1` == `1.0`",
    "@.event.callRef",
    "contains(vars.list, event.callRef)",
    "length(event.legs[?state == 'ACTIVE']) > `0`",
    "event.legs[*].deviceId",
    "event.legs[].state | [0]",
    "event.legs[0:1]",
    "{ref: event.callRef, n: event.count}",
    "[event.callRef, key]",
    "sort_by(event.legs, &deviceId)[0].deviceId",
    "max_by(event.legs, &deviceId).state",
    "to_string(event.count)",
    "event.*.state",
    "normalize_number(event.number, '33')",
    "time_in(now, '08:00-18:00') && weekday_in(now, 'mon-fri')",
    "contains(event.missing, 'x')",
    "event.legs[0].state == 'ACTIVE' && length(event.legs) == `1` || event.count == `3`",
    "event.zero == 'a'",
    "event.flag != 'true'",
    "event.legs == 'x'",
    "event.missing == ''",
    "event.callRef.x.y",
    "event.legs.state",
    "event.legs[0][0]",
    "event.legs[5].state",
    "event.name[0]",
    "'RINGING' == event.legs[0].state",
]
CONTEXTS = [
    CONTEXT,
    {
        "event": {
            "callRef": "c9",
            "legs": [{"deviceId": "2", "state": "ACTIVE"}, {"deviceId": "1", "state": "HELD"}],
            "count": 3,
            "zero": 0,
            "one": 1,
            "flag": True,
            "name": "bob",
            "number": "01 40 00 00 01",
        },
        "key": "c9",
        "state": None,
        "vars": {"list": ["c9"]},
        "now": NOW,
    },
    {
        "event": {"legs": "not a list", "count": "3", "zero": False},
        "key": None,
        "vars": {"list": []},
        "now": {},
    },
    {"event": None, "vars": None},
]


@pytest.mark.parametrize("source", CORPUS)
def test_closures_agree_with_the_jmespath_interpreter(source):
    import jmespath

    expression = Expression(source, TABLE)
    options = jmespath.Options(custom_functions=TABLE.functions())
    for context in CONTEXTS:
        try:
            expected = jmespath.search(source, context, options=options)
        except (jmespath.exceptions.JMESPathError, TypeError, ValueError):
            with pytest.raises(EvaluationError):
                expression.evaluate(context)
            continue
        assert expression.evaluate(context) == expected, (source, context)
        assert type(expression.evaluate(context)) is type(expected)
