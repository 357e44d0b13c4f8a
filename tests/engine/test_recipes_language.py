"""Language additions for the recipes of issue 8: arithmetic, time arithmetic, for_each."""

from __future__ import annotations

from o2g_flows.engine import load_text

COUNT = """\
flow: count-calls
key: event.loginName
vars: {handled: 0}
start:
  on: OnCallCreated
  goto: counting
states:
  counting:
    enter:
      - set: {handled: "${add(vars.handled, `1`)}"}
      - log: "call ${vars.handled}, ${div(vars.handled, `2`)} pairs"
    on:
      OnCallCreated: {goto: counting}
"""


async def test_arithmetic_counts_calls(offline):
    run = offline(COUNT)
    for ref in ("c1", "c2", "c3"):
        await run.send("OnCallCreated", callRef=ref, loginName="alice")
    (execution,) = run.engine.executions()
    assert execution.vars["handled"] == 3
    assert [args["message"] for _, args in run.actions if _ == "log"] == [
        "call 1, 0.5 pairs",
        "call 2, 1 pairs",
        "call 3, 1.5 pairs",
    ]


async def test_time_arithmetic_in_conditions(offline):
    run = offline("""\
flow: late
key: event.callRef
on: OnCallCreated
when: "seconds_between(event.since, now) > `60`"
do:
  - log: "waiting since ${event.since}, reminder at ${add_seconds(event.since, `120`)}"
""")
    await run.send("OnCallCreated", callRef="c1", since="2025-01-06T08:59:30Z")
    assert run.actions == []  # 30 s: START is 09:00 UTC
    await run.send("OnCallCreated", callRef="c2", since="2025-01-06T08:58:00+00:00")
    assert run.actions == [
        (
            "log",
            {
                "message": "waiting since 2025-01-06T08:58:00+00:00, reminder at "
                "2025-01-06T09:00:00+00:00",
                "level": "info",
            },
        )
    ]


CLOSING = """\
flow: closing-withdraw
key: event.schedule
vars: {agents: [a1, a2, a3]}
schedule:
  - name: closing
    cron: "0 18 * * *"
    do:
      - for_each:
          items: "${vars.agents}"
          as: agent
          do:
            - agent_withdraw: {user: "${agent}"}
              on_error: continue
"""


async def test_for_each_runs_its_actions_per_item(offline):
    run = offline(CLOSING)
    await run.engine.start()
    await run.advance(9 * 3600)
    assert [args["user"] for name, args in run.actions if name == "agent_withdraw"] == [
        "a1",
        "a2",
        "a3",
    ]


def test_for_each_is_checked_at_load():
    text = CLOSING.replace('"${agent}"', '"${agnt}"').replace("as: agent", "as: event")
    errors = [str(e) for e in load_text(text, "f.yaml").errors]
    assert errors == [
        "f.yaml:10:15: for_each as: names the item (an identifier other than event, key, now, "
        "state, vars)"
    ]
    text = CLOSING.replace('"${agent}"', '"${agnt}"')
    assert [str(e) for e in load_text(text, "f.yaml").errors] == [
        "f.yaml:12:41: bad template: unknown name 'agnt' (the context has agent, event, key, "
        "now, state, vars; did you mean agent?)"
    ]


LOGOFF = """\
flow: closing-logoff
key: event.schedule
schedule:
  - name: closing
    cron: "0 18 * * *"
    do:
      - agent_logoff: {user: agent1}
        retry: {attempts: 3, delay: 1m, on: CALL_IN_PROGRESS}
"""


async def test_retry_tries_a_refused_action_again(offline):
    run = offline(LOGOFF, failures={"agent_logoff": "CALL_IN_PROGRESS: a call is in progress"})
    await run.engine.start()
    await run.advance(9 * 3600)
    records = run.records()
    assert [(r.action, r.ok) for r in records] == [("agent_logoff", False)] * 3
    assert [r.at - records[0].at for r in records] == [0, 60, 120]
    (trace,) = list(run.engine.traces)
    notes = [entry[2] for entry in trace.entries if entry[1] == "note"]
    assert notes[:2] == [
        "agent_logoff failed (CALL_IN_PROGRESS: a call is in progress): attempt 2 of 3 in 60s",
        "agent_logoff failed (CALL_IN_PROGRESS: a call is in progress): attempt 3 of 3 in 60s",
    ]


async def test_retry_only_on_the_errors_it_names(offline):
    run = offline(LOGOFF, failures={"agent_logoff": "NOT_FOUND: no such agent"})
    await run.engine.start()
    await run.advance(9 * 3600)
    assert [(r.action, r.ok) for r in run.records()] == [("agent_logoff", False)]


def test_retry_is_checked_at_load():
    text = LOGOFF.replace("{attempts: 3, delay: 1m, on: CALL_IN_PROGRESS}", "{attempts: 50}")
    assert [str(e) for e in load_text(text, "f.yaml").errors] == [
        "f.yaml:8:27: retry attempts is a whole number from 2 to 10"
    ]
