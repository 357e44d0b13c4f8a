"""Mistakes found at load, not at run time, in plain words (issue 8, items 1 and 3)."""

from __future__ import annotations

from pathlib import Path

from o2g_flows.cli import main
from o2g_flows.engine import load_text
from o2g_flows.engine.actions import check_call


def errors(text: str) -> list[str]:
    return [str(error) for error in load_text(text, "f.yaml").errors]


def test_a_misspelt_variable_is_a_load_error_with_a_suggestion():
    text = """\
flow: forward
vars: {colleague: "2001"}
on: OnCallCreated
do:
  - redirect: {to: "${vars.colleage}"}
  - log: "to ${vars.colleague}, then ${vars.other}"
"""
    assert errors(text) == [
        "f.yaml:5:23: vars.colleage is not a variable of this flow (this flow's variables are "
        "colleague; declare it in vars: or give it a value with set:) (did you mean colleague?)",
        "f.yaml:6:40: vars.other is not a variable of this flow (this flow's variables are "
        "colleague; declare it in vars: or give it a value with set:)",
    ]


def test_variables_given_by_set_and_as_are_known():
    text = """\
flow: count
on: OnCallCreated
when: "vars.seen != `null` || vars.calls == `null`"
do:
  - call: {method: telephony.get_calls}
    as: calls
  - set: {seen: "${event.callRef}"}
"""
    assert errors(text) == []


def test_unknown_and_engine_owned_call_methods_are_load_errors():
    text = """\
flow: calls
on: OnCallCreated
do:
  - call: {method: nosuch.thing}
  - call: {method: _connection.close}
  - call: {method: sessions.close}
  - call: {method: telephony.get_cals}
"""
    assert errors(text) == [
        "f.yaml:4:20: call: no client method 'nosuch.thing' (methods are service.method)",
        "f.yaml:5:20: call: '_connection.close' is not a method flows may call (the engine "
        "owns it)",
        "f.yaml:6:20: call: 'sessions.close' is not a method flows may call (the engine owns it)",
        "f.yaml:7:20: call: no client method 'telephony.get_cals' (did you mean "
        "telephony.get_calls?)",
    ]


def test_call_arguments_are_checked_against_the_method():
    assert check_call("telephony.get_calls", ["nope"]) == [
        "call: telephony.get_calls has no argument 'nope'; it takes no arguments"
    ]
    problems = check_call("routing.activate_dnd", [])
    assert problems == []
    (missing,) = check_call("telephony.answer", [])
    assert missing == (
        "call: telephony.answer is missing the arguments call_ref, device_id (give them in args:)"
    )
    text = "flow: c\non: OnCallCreated\ndo:\n  - call: {method: telephony.answer, args: {}}\n"
    assert errors(text) == [
        "f.yaml:4:20: call: telephony.answer is missing the arguments call_ref, device_id (give "
        "them in args:)"
    ]
    text = text.replace("{}}", '{call_ref: "${event.callRef}", device_id: "2001"}}')
    assert errors(text) == []


def test_an_unquoted_null_is_explained():
    text = 'flow: n\non: OnCallCreated\nwhen: "event.callRef != null"\ndo: [answer]\n'
    assert errors(text) == [
        "f.yaml:3:25: bad expression: null without backquotes is a field name in JMESPath: "
        "write `null` for the value, or 'null' for the text"
    ]


def test_every_error_of_one_template_is_reported():
    text = 'flow: t\non: OnCallCreated\ndo:\n  - log: "${nope(event)} and ${event.} and ${vars}"\n'
    assert errors(text) == [
        "f.yaml:4:13: bad template: unknown function nope()",
        "f.yaml:4:38: bad template: incomplete expression",
    ]


def test_missing_arguments_read_as_a_sentence():
    text = "flow: r\non: OnCallCreated\ndo:\n  - redirect: {}\n"
    assert errors(text) == ["f.yaml:4:5: redirect is missing its to: argument (destination number)"]


def test_names_a_plugin_may_provide_hint_at_plugins():
    text = "flow: p\non: OnCalendarEvent\ndo:\n  - page: {text: hi}\n"
    assert errors(text) == [
        "f.yaml:2:5: unknown event 'OnCalendarEvent' (if a plugin provides it, load its "
        "folder with --plugins DIR)",
        "f.yaml:4:5: unknown action 'page' (if a plugin provides it, load its folder with "
        "--plugins DIR)",
    ]


def test_validate_of_an_empty_folder_fails(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().out == f"no flow files (*.yaml, *.yml) in {tmp_path}\n"


def warnings(text: str, registry=None) -> list[str]:
    return [f"{w.location}: {w.message}" for w in load_text(text, "f.yaml", registry).warnings]


def test_events_that_cannot_produce_the_key_or_pass_users_are_warned_about():
    from o2g_flows.engine.registry import Registry

    registry = Registry.builtin()
    registry.event("Alarm")
    assert warnings("flow: a\nusers: [alice]\non: Alarm\ndo: [{log: x}]\n", registry) == [
        "f.yaml:3:1: Alarm is not an O2G event and its fields are unknown: if it carries none "
        "of callRef, loginName, schedule (what the default key reads), the flow drops it; "
        "set key:",
        "f.yaml:3:1: Alarm may name no user (loginName), and users: alice keeps such events "
        "out; drop users: or filter with when:",
    ]
    assert warnings("flow: a\nkey: event.level\non: Alarm\ndo: [{log: x}]\n", registry) == []
    text = "flow: u\non: OnUserCreated\ndo: [{log: x}]\n"
    assert warnings(text) == [
        "f.yaml:2:1: OnUserCreated carries none of callRef, loginName, schedule (what the key "
        "event.callRef || event.loginName || event.schedule reads): the flow drops every one; "
        "set key:"
    ]
    assert warnings("flow: c\non: OnCallCreated\ndo: [answer]\n") == []


def test_emitted_events_are_known_by_their_data(tmp_path: Path, capsys):
    (tmp_path / "a.yaml").write_text(
        "flow: a\non: OnCallCreated\ndo:\n"
        "  - emit: {event: Escalated, data: {callRef: '${event.callRef}'}}\n"
    )
    (tmp_path / "b.yaml").write_text("flow: b\nusers: [bob]\non: Escalated\ndo: [{log: x}]\n")
    assert main(["validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{tmp_path / 'b.yaml'}:3:1: warning: Escalated names no user (loginName), and users: "
        "bob keeps such events out; drop users: or filter with when:",
        "2 flow(s) valid, 0 error(s), 1 warning(s) in 2 file(s)",
    ]
    assert main(["validate", "--strict", str(tmp_path)]) == 1


async def test_call_refuses_an_engine_owned_method_computed_at_run_time(offline):
    run = offline(
        'flow: c\non: OnCallCreated\ndo:\n  - call: {method: "${event.method}"}\n'
        "    on_error: continue\n"
    )
    await run.send("OnCallCreated", callRef="c1", method="_connection.close")
    await run.send("OnCallCreated", callRef="c2", method="sessions.close")
    assert run.sent() == []  # nothing reached the client
    assert [ok for *_, ok in run.recorder.actions] == [False, False]
    first, second = run.engine.traces.query(flow="c")
    (action,) = [entry for entry in first.entries if entry[1] == "action"]
    assert "call: '_connection.close' is not a method flows may call" in str(action)
    (action,) = [entry for entry in second.entries if entry[1] == "action"]
    assert "call: 'sessions.close' is not a method flows may call" in str(action)


def test_a_negation_that_would_always_be_null_is_a_load_error():
    text = 'flow: n\non: OnCallCreated\nwhen: "event.a && !event.busy"\ndo: [answer]\n'
    assert errors(text) == [
        "f.yaml:3:19: bad expression: ! applies to what follows it up to the first '.' or '[' "
        "(!event.busy is (!event).busy, always null): write !(event.busy)"
    ]
