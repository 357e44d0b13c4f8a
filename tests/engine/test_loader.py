"""Loading flows: every error kind, reported as file:line:col, all of them at once."""

from __future__ import annotations

from pathlib import Path

from o2g_flows.engine import load_flows, load_text
from o2g_flows.engine.model import END
from o2g_flows.plugins import Param, Registry


def errors(text: str, registry: Registry | None = None) -> list[str]:
    return [str(error) for error in load_text(text, "f.yaml", registry).errors]


RULE = """\
flow: greet
on: OnCallCreated
do:
  - answer: {}
"""


def test_a_valid_rule_loads_as_a_machine_with_one_step():
    result = load_text(RULE, "f.yaml")
    assert result.ok
    (flow,) = result.flows
    assert flow.is_rule and flow.states == {}
    assert flow.start[0].goto == END
    assert flow.key.source == "event.callRef || event.loginName"


def test_yaml_syntax_error_has_its_position():
    assert errors("flow: x\non: [OnCallCreated\n") == [
        "f.yaml:3:1: while parsing a flow sequence expected ',' or ']', but got '<stream end>'"
    ]


def test_every_duplicate_key_is_reported():
    text = """\
flow: a
flow: b
on: OnCallCreated
do:
  - answer: {call: x, call: y}
"""
    assert errors(text) == [
        "f.yaml:2:1: duplicate key 'flow' (first at line 1)",
        "f.yaml:5:23: duplicate key 'call' (first at line 5)",
    ]


def test_unknown_keys_suggest_the_right_one():
    text = RULE + "descripton: hello\n"
    assert errors(text) == [
        "f.yaml:5:1: unknown key 'descripton' in a flow (did you mean description?)"
    ]


def test_wrong_types_name_what_was_found():
    text = """\
flow: greet
mode: sometimes
max: 0
users: 12
on: OnCallCreated
do: answer
"""
    assert errors(text) == [
        "f.yaml:2:7: mode must be one of single, restart, queued, parallel",
        "f.yaml:3:6: max must be an integer >= 1",
        "f.yaml:4:8: users must be '*', a login name or a list of them",
    ]


def test_unknown_event_names_are_load_errors():
    text = RULE.replace("OnCallCreated", "OnCallCreatd")
    assert errors(text) == [
        "f.yaml:2:5: unknown event 'OnCallCreatd' (did you mean OnCallCreated?)"
    ]


def test_unknown_action():
    text = RULE.replace("answer: {}", "anwser: {}")
    assert errors(text) == ["f.yaml:4:5: unknown action 'anwser' (did you mean answer?)"]


def test_bad_action_arguments():
    text = """\
flow: greet
on: OnCallCreated
do:
  - redirect: {cal: x}
  - agent_withdraw: {reason: first}
  - forward: {to: voicemail, when: later}
"""
    assert errors(text) == [
        "f.yaml:4:5: redirect needs to:",
        "f.yaml:4:16: redirect has no argument 'cal' (did you mean call?); it takes call, to, "
        "anonymous, user",
        "f.yaml:5:30: agent_withdraw: reason must be an integer",
        "f.yaml:6:36: forward: when must be one of immediate, busy, no_answer, busy_no_answer",
    ]


def test_phone_numbers_written_as_integers_become_text():
    result = load_text(RULE.replace("answer: {}", "redirect: {to: 3000}"), "f.yaml")
    assert result.ok
    assert result.flows[0].start[0].do[0].args["to"] == "3000"


def test_bad_jmespath_points_at_the_character():
    text = """\
flow: greet
on: OnCallCreated
when: "event.legs[0].state == 'RINGING' &&"
do:
  - answer: {}
"""
    assert errors(text) == ["f.yaml:3:43: bad expression: incomplete expression"]


def test_unknown_functions_and_arity_are_load_errors():
    text = """\
flow: greet
on: OnCallCreated
when: "contains(event.legs) || lenght(event.legs) > `0`"
do:
  - answer: {}
"""
    assert errors(text) == ["f.yaml:3:8: bad expression: contains() takes 2 arguments, got 1"]
    text = text.replace("contains(event.legs)", "`true`")
    assert errors(text) == [
        "f.yaml:3:18: bad expression: unknown function lenght() (did you mean length()?)"
    ]


def test_names_the_context_lacks_are_load_errors():
    text = RULE.replace("do:", "when: \"loginName == 'alice'\"\ndo:")
    assert errors(text) == [
        "f.yaml:3:8: bad expression: unknown name 'loginName' (the context has event, key, "
        "now, state, vars; did you mean event.loginName?)"
    ]


def test_malformed_literal_patterns_are_load_errors():
    text = RULE.replace("do:", "when: \"time_in(now, '8h-18h')\"\ndo:")
    assert errors(text) == [
        "f.yaml:3:8: bad expression: time_in(): '8h' is not a time of day (HH:MM)"
    ]


def test_bad_template_points_inside_the_string():
    text = RULE.replace("answer: {}", 'log: "caller ${event.participants[0}"')
    assert errors(text) == ["f.yaml:4:40: bad template: incomplete expression"]


def test_positions_inside_a_folded_block():
    text = """\
flow: greet
on: OnCallCreated
when: >-
  event.legs[0].state == 'RINGING_INCOMING'
  && contians(event.legs, 'x')
do:
  - answer: {}
"""
    assert errors(text) == [
        "f.yaml:5:6: bad expression: unknown function contians() (did you mean contains()?)"
    ]


MACHINE = """\
flow: ring
key: event.callRef
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {seconds: 20, goto: voicemail}
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
    goto: end
"""


def test_machine_graph_errors():
    text = (
        MACHINE.replace("goto: voicemail}", "goto: voicemial}")
        + """\
  orphan:
    goto: end
  stuck: {}
"""
    )
    assert errors(text) == [
        "f.yaml:8:32: goto: unknown state 'voicemial' (did you mean voicemail?)",
        "f.yaml:11:3: state 'voicemail' is never entered",
        "f.yaml:15:3: state 'orphan' is never entered",
        "f.yaml:17:3: state 'stuck' has no way out (add on:, after: or goto:)",
        "f.yaml:17:3: state 'stuck' is never entered",
    ]


def test_a_state_cannot_both_leave_at_once_and_wait():
    text = MACHINE.replace("    goto: end\n", "    goto: end\n    on: {OnCallRemoved: {}}\n")
    assert errors(text) == [
        "f.yaml:14:5: state 'voicemail' leaves at once with goto:, so its on:/after: never apply"
    ]


def test_rule_and_machine_keys_do_not_mix():
    assert errors(MACHINE + "on: OnCallCreated\n") == [
        "f.yaml:15:1: a flow is either a rule (on/when/do) or a machine (start/states)"
    ]


def test_all_errors_of_a_file_at_once():
    text = """\
flow: many
on: OnCallCreatd
when: "event.a =="
do:
  - answr: {}
  - redirect: {}
bogus: 1
"""
    assert errors(text) == [
        "f.yaml:2:5: unknown event 'OnCallCreatd' (did you mean OnCallCreated?)",
        "f.yaml:3:18: bad expression: incomplete expression",
        "f.yaml:5:5: unknown action 'answr' (did you mean answer?)",
        "f.yaml:6:5: redirect needs to:",
        "f.yaml:7:1: unknown key 'bogus' in a flow",
    ]


def test_a_broken_flow_never_stops_the_others(tmp_path: Path):
    (tmp_path / "good.yaml").write_text(RULE)
    (tmp_path / "bad.yaml").write_text("flow: bad\non: Nope\ndo: [hangup]\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "also-good.yml").write_text(RULE.replace("greet", "greet2"))
    result = load_flows([tmp_path])
    assert sorted(flow.name for flow in result.flows) == ["greet", "greet2"]
    assert [str(e) for e in result.errors] == [f"{tmp_path / 'bad.yaml'}:2:5: unknown event 'Nope'"]


def test_flow_names_are_unique_across_files(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(RULE)
    (tmp_path / "b.yaml").write_text(RULE)
    result = load_flows([tmp_path])
    assert [flow.file for flow in result.flows] == [str(tmp_path / "a.yaml")]
    assert [str(e) for e in result.errors] == [
        f"{tmp_path / 'b.yaml'}:1:7: flow 'greet' is already defined at {tmp_path / 'a.yaml'}:1:7"
    ]


def test_events_emitted_by_a_flow_can_be_matched_by_another(tmp_path: Path):
    (tmp_path / "vip.yaml").write_text(
        "flow: vip\non: OnCallCreated\ndo:\n  - emit: {event: VipArrived, data: {who: x}}\n"
    )
    (tmp_path / "greet.yaml").write_text("flow: greet\non: VipArrived\ndo: [log: hi]\n")
    assert load_flows([tmp_path]).ok


def test_plugin_actions_are_validated_like_built_in_ones():
    registry = Registry.builtin()

    @registry.action("page", Param("text", required=True), Param("urgent", type="boolean"))
    async def page(ctx, args):
        return None

    ok = RULE.replace("answer: {}", "page: {text: hello, urgent: true}")
    assert errors(ok, registry) == []
    bad = RULE.replace("answer: {}", "page: {urgent: maybe}")
    assert errors(bad, registry) == [
        "f.yaml:4:5: page needs text:",
        "f.yaml:4:20: page: urgent must be true or false",
    ]


def test_missing_files_and_empty_files(tmp_path: Path):
    (tmp_path / "empty.yaml").write_text("")
    result = load_flows([tmp_path, tmp_path / "nope"])
    assert [str(e) for e in result.errors] == [
        f"{tmp_path / 'nope'}:1:1: no such file or folder",
        f"{tmp_path / 'empty.yaml'}:1:1: empty file (a flow starts with flow: NAME)",
    ]


def test_test_blocks_are_validated():
    text = (
        RULE
        + """\
tests:
  - name: t
    events:
      - {at: 0, OnCallCreated: {callRef: c1}}
      - {at: soon, OnCallRemovd: {}}
    expect:
      - {answr: {}}
"""
    )
    assert errors(text) == [
        "f.yaml:9:14: 'soon' is not a duration (a number of seconds, or 20s, 2m, 1h)",
        "f.yaml:9:20: unknown event 'OnCallRemovd' (did you mean OnCallRemoved?)",
        "f.yaml:11:10: unknown action 'answr' (did you mean answer?)",
    ]


def test_shipped_flows_load_without_error():
    result = load_flows([Path(__file__).parents[2] / "flows"])
    assert result.ok, result.report()
    assert len(result.flows) >= 4
