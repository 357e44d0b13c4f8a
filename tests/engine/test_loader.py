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
    assert flow.key.source == "event.callRef || event.loginName || event.schedule"


def test_yaml_syntax_error_has_its_position():
    assert errors("flow: x\non: [OnCallCreated\n") == [
        "f.yaml:3:1: a list in [ ] is not closed (opened at line 2): add ']' (or a ',' "
        "between items)"
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
        "f.yaml:4:5: redirect is missing its to: argument (destination number)",
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
        "f.yaml:6:5: redirect is missing its to: argument (destination number)",
        "f.yaml:7:1: unknown key 'bogus' in a flow",
    ]


def test_a_broken_flow_never_stops_the_others(tmp_path: Path):
    (tmp_path / "good.yaml").write_text(RULE)
    (tmp_path / "bad.yaml").write_text("flow: bad\non: Nope\ndo: [hangup]\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "also-good.yml").write_text(RULE.replace("greet", "greet2"))
    result = load_flows([tmp_path])
    assert sorted(flow.name for flow in result.flows) == ["greet", "greet2"]
    assert [str(e) for e in result.errors] == [
        f"{tmp_path / 'bad.yaml'}:2:5: unknown event 'Nope' "
        "(if a plugin provides it, load its folder with --plugins DIR)"
    ]


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
        "f.yaml:4:5: page is missing its text: argument",
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
        "f.yaml:9:14: 'soon' is not a duration (a number of seconds, or 20s, 2m, 1h, 1d)",
        "f.yaml:9:20: unknown event 'OnCallRemovd' (did you mean OnCallRemoved?)",
        "f.yaml:11:10: unknown action 'answr' (did you mean answer?)",
    ]


def test_shipped_flows_load_without_error():
    result = load_flows([Path(__file__).parents[2] / "flows"])
    assert result.ok, result.report()
    assert len(result.flows) >= 4


# -- schedule:, on_reload:, on_missed: -------------------------------------------------------------

SCHEDULED = """\
flow: after-hours
on_reload: restart
schedule:
  - {name: evening, cron: "0 18 * * mon-fri", timezone: Europe/Paris,
     do: [{forward: {user: reception, to: VOICEMAIL}}]}
  - name: morning
    cron: "0 8 * * mon-fri"
    when: "!holiday(now, 'FR')"
    do:
      - cancel_forward: {user: reception}
  - {every: {minutes: 5}}
  - {at: 2025-12-24T18:00:00}
  - {start: true}
on: OnSchedule
do:
  - log: "${event.schedule}"
"""


def test_schedule_entries_load_with_their_kinds_and_start_handlers():
    result = load_text(SCHEDULED, "f.yaml")
    assert result.ok, result.report()
    (flow,) = result.flows
    assert flow.on_reload == "restart"
    assert [(s.name, s.kind, s.value, s.timezone) for s in flow.schedules] == [
        ("evening", "cron", "0 18 * * mon-fri", "Europe/Paris"),
        ("morning", "cron", "0 8 * * mon-fri", None),
        ("schedule-3", "every", 300.0, None),
        ("schedule-4", "at", "2025-12-24T18:00:00", None),
        ("schedule-5", "start", True, None),
    ]
    assert [str(s.location) for s in flow.schedules][:2] == ["f.yaml:4:5", "f.yaml:6:5"]
    evening, morning, rule = flow.start
    assert [h.events for h in flow.start] == [("OnSchedule",)] * 3
    assert evening.when.source == "event.schedule == 'evening'"
    assert morning.when.source == "event.schedule == 'morning' && (!holiday(now, 'FR'))"
    assert [step.name for step in morning.do] == ["cancel_forward"]
    assert evening.goto == morning.goto == rule.goto == END
    assert flow.uses_now and flow.events() == {"OnSchedule"}
    assert flow.key.evaluate({"event": {"eventName": "OnSchedule", "schedule": "evening"}}) == (
        "evening"
    )


def test_a_flow_of_schedule_entries_alone_is_complete_and_a_machine_may_have_some():
    alone = "flow: a\nschedule: {cron: '*/5 * * * *', do: [{log: tick}]}\n"
    (flow,) = load_text(alone, "f.yaml").flows
    assert flow.is_rule and flow.schedules[0].name == "schedule-1"
    machine = """\
flow: m
schedule: {name: open, cron: "0 8 * * *"}
start: {on: OnSchedule, goto: waiting}
states:
  waiting:
    on: {OnSchedule: {when: "event.schedule == 'open'", goto: end}}
    after: {hours: 1, goto: end, on_missed: {goto: late}}
  late: {goto: end}
"""
    result = load_text(machine, "f.yaml")
    assert result.ok, result.report()
    timer = result.flows[0].states["waiting"].after[0]
    assert (timer.on_missed, timer.missed_goto) == ("goto", "late")
    assert result.flows[0].on_reload == "keep"


def test_schedule_errors_have_their_positions():
    text = """\
flow: s
on_reload: later
schedule:
  - {name: a, cron: "61 * * * *", do: [{log: x}]}
  - {name: a, every: 0, do: [{log: x}]}
  - {cron: "0 8 * *", do: [{log: x}]}
  - {at: "christmas", timezone: Europe/Pariss, do: [{log: x}]}
  - {cron: "0 8 * * *", every: 5, do: [{log: x}]}
  - {start: yes please, do: [{log: x}]}
  - {every: {days: 1}, do: [{log: x}]}
  - {start: true, when: "event.x", colour: red}
  - "0 8 * * *"
"""
    found = errors(text)
    assert found[0] == "f.yaml:2:12: on_reload must be one of keep, restart, cancel"
    assert found[1].startswith("f.yaml:4:21: bad cron expression '61 * * * *': ")
    assert found[2:] == [
        "f.yaml:5:12: schedule 'a' is already defined at line 4",
        "f.yaml:5:22: every must be more than 0 seconds",
        "f.yaml:6:12: bad cron expression '0 8 * *': Wrong number of fields; got 4, expected 5",
        "f.yaml:7:10: at: 'christmas' is not an ISO date and time (2025-12-24T18:00)",
        "f.yaml:7:33: unknown time zone 'Europe/Pariss' (did you mean Europe/Paris?)",
        "f.yaml:8:5: a schedule entry needs exactly one of cron, every, at, start",
        "f.yaml:9:13: start: true is the only form (fires when the flow loads)",
        "f.yaml:10:13: every is a number of seconds or {seconds|minutes|hours: N}",
        "f.yaml:11:5: nothing handles the firings of schedule 'schedule-8': give it do:, "
        "or handle OnSchedule in on:, start: or a state",
        "f.yaml:11:19: when: filters the entry's do:, and this entry has none (or handle "
        "OnSchedule in on:/start: and test event.schedule there)",
        "f.yaml:11:36: unknown key 'colour' in a schedule entry",
        "f.yaml:12:5: a schedule entry must be a mapping, not the text '0 8 * * *'",
    ]


def test_schedule_events_need_a_schedule_and_schedules_need_a_handler():
    no_schedule = "flow: a\non: OnSchedule\ndo: [{log: x}]\n"
    assert errors(no_schedule) == [
        "f.yaml:2:5: OnSchedule comes from schedule:; this flow has none"
    ]
    unhandled = "flow: a\nschedule: [{name: x, cron: '0 8 * * *'}]\non: OnCallCreated\ndo: answer\n"
    assert errors(unhandled) == [
        "f.yaml:2:12: nothing handles the firings of schedule 'x': give it do:, "
        "or handle OnSchedule in on:, start: or a state"
    ]
    top = "flow: a\nschedule: {start: true, do: [{log: x}]}\ndo: [{log: y}]\n"
    assert errors(top) == [
        "f.yaml:3:1: do: at the top needs on:; a schedule entry takes its own do:"
    ]


def test_on_missed_choices_are_checked():
    text = """\
flow: m
start: {on: OnCallCreated, goto: ringing}
states:
  ringing:
    after:
      - {seconds: 20, goto: end, on_missed: fire}
      - {seconds: 30, goto: end, on_missed: {goto: nowhere}}
      - {seconds: 40, goto: end, on_missed: later}
"""
    assert errors(text) == [
        "f.yaml:7:52: goto: unknown state 'nowhere'",
        "f.yaml:8:45: on_missed must be end, fire or {goto: STATE}",
    ]
