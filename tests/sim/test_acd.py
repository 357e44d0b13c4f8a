"""Call Center Agent: every /acd/agent endpoint, the agent state rules, errors and events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.sim import Simulator, load_pbx_file

from .conftest import assert_error

TIMING = {"wrapup": 0.2, "ring_timeout": 0.3, "keepalive_interval": 0.2, "channel_minute": 0.5}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(timing=TIMING) as simulator:
        yield simulator


def acd_state(event: dict) -> dict:
    return event["state"]


async def state_of(client: httpx.AsyncClient, **params) -> dict:
    answer = await client.get("/acd/agent/state", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- logon, states, logoff ----------------------------------------------------------------------


async def test_logged_off_agent_state(session_of) -> None:
    agent1 = await session_of("agent1")
    assert await state_of(agent1) == {"mainState": "LOG_OFF"}


async def test_agent_day_logon_pause_ready_logoff_with_events(session_of, subscribe) -> None:
    agent1 = await session_of("agent1")
    reader = await subscribe(agent1, names=["agent"])

    assert (
        await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    ).status_code == 204
    assert await state_of(agent1) == {
        "mainState": "LOG_ON",
        "subState": "READY",
        "proAcdDeviceNumber": "2301",
        "pgNumber": "5100",
    }
    assert (await agent1.post("/acd/agent/pause")).status_code == 204
    assert (await agent1.post("/acd/agent/pause")).status_code == 204  # no change, no event
    assert (await agent1.post("/acd/agent/ready")).status_code == 204
    assert (await agent1.post("/acd/agent/logoff")).status_code == 204
    await reader.wait_for("OnAgentStateChanged", count=4)

    assert [e["loginName"] for e in reader.events] == ["agent1"] * 4
    assert [acd_state(e).get("subState") for e in reader.events] == [
        "READY",
        "PAUSE",
        "READY",
        None,
    ]
    assert acd_state(reader.events[-1]) == {"mainState": "LOG_OFF"}


async def test_logon_in_a_named_group_with_headset(session_of) -> None:
    agent3 = await session_of("agent3")
    answer = await agent3.post(
        "/acd/agent/logon",
        json={"proAcdDeviceNumber": "2303", "pgGroupNumber": "5200", "headset": True},
    )
    assert answer.status_code == 204
    assert (await state_of(agent3))["pgNumber"] == "5200"
    config = (await agent3.get("/acd/agent/config")).json()
    assert config["headset"] is True


async def test_logon_refusals(session_of) -> None:
    agent1 = await session_of("agent1")
    wrong_set = await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2302"})
    assert_error(wrong_set, 400, "BAD_PARAMETER", "not the pro-ACD device of agent1 (2301)")
    other_group = await agent1.post(
        "/acd/agent/logon", json={"proAcdDeviceNumber": "2301", "pgGroupNumber": "5200"}
    )
    assert_error(other_group, 400, "BAD_PARAMETER", "not a member of processing group 5200")
    missing = await agent1.post("/acd/agent/logon", json={"pgGroupNumber": "5100"})
    assert_error(missing, 400, "BAD_PARAMETER", "proAcdDeviceNumber")
    assert await state_of(agent1) == {"mainState": "LOG_OFF"}

    assert (
        await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    ).status_code == 204
    again = await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    assert_error(again, 400, "NOT_EXPECTED", "already logged on 2301")


async def test_self_assignment_decides_whether_an_agent_may_choose_its_group() -> None:
    config = load_pbx_file()
    agents = {user.login: user for user in config.users}
    agents["agent1"].acd.groups = ["5100", "5200"]
    agents["agent2"].acd.groups = ["5100", "5200"]
    agents["agent2"].acd.self_assign = True
    async with Simulator(config, timing=TIMING) as simulator:
        async with httpx.AsyncClient(base_url=simulator.url) as control:
            fixed = await control.post("/sim/agents/agent1/logon", json={"pg": "5200"})
            assert_error(fixed, 403, "NOT_ALLOWED", "selfAssign is false")
            chosen = await control.post("/sim/agents/agent2/logon", json={"pg": "5200"})
            assert chosen.status_code == 200
            assert chosen.json()["state"]["pgNumber"] == "5200"


async def test_requests_needing_a_logged_on_agent(session_of) -> None:
    agent1 = await session_of("agent1")
    for path in ("ready", "pause", "wrapUp", "logoff", "supervisorHelp"):
        answer = await agent1.post(f"/acd/agent/{path}")
        assert_error(answer, 400, "NOT_EXPECTED", "agent1 is not logged on")
    withdraw = await agent1.post("/acd/agent/withdraw", json={"reasonIndex": 1})
    assert_error(withdraw, 400, "NOT_EXPECTED", "not logged on")
    cancel = await agent1.delete("/acd/agent/supervisorHelp")
    assert_error(cancel, 400, "NOT_EXPECTED", "not logged on")


async def test_users_without_acd_licence_or_configuration_are_refused(
    sim: Simulator, session_of
) -> None:
    alice = await session_of("alice")
    assert_error(await alice.get("/acd/agent/state"), 403, "NOT_ALLOWED", "licenses")
    async with httpx.AsyncClient(base_url=sim.url) as control:
        answer = await control.post("/sim/agents/alice/logon")
    assert_error(answer, 403, "NOT_ALLOWED", "alice is not an ACD agent or supervisor")


async def test_administrator_acts_for_an_agent_with_login_name(session_of) -> None:
    admin = await session_of("admin")
    no_login = await admin.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2302"})
    assert_error(no_login, 400, "BAD_PARAMETER", "loginName")
    answer = await admin.post(
        "/acd/agent/logon", params={"loginName": "agent2"}, json={"proAcdDeviceNumber": "2302"}
    )
    assert answer.status_code == 204
    assert (await state_of(admin, loginName="agent2"))["subState"] == "READY"
    unknown = await admin.get("/acd/agent/state", params={"loginName": "nobody"})
    assert_error(unknown, 404, "NOT_FOUND", "nobody")


async def test_agent_config(session_of) -> None:
    agent1 = await session_of("agent1")
    assert (await agent1.get("/acd/agent/config")).json() == {
        "type": "AGENT",
        "proacd": "2301",
        "processingGroups": {"groups": ["5100"], "preferred": "5100"},
        "skills": {"skills": []},
        "selfAssign": False,
        "headset": False,
        "help": True,
        "multiline": False,
    }
    supervisor = await session_of("supervisor")
    config = (await supervisor.get("/acd/agent/config")).json()
    assert config["type"] == "SUPERVISOR"
    assert "proacd" not in config
    assert config["processingGroups"] == {"groups": ["5100", "5200"]}


# -- withdraw and wrap-up -----------------------------------------------------------------------


async def test_withdraw_reasons_of_a_group(session_of) -> None:
    agent1 = await session_of("agent1")
    named = await agent1.get("/acd/agent/withdrawReasons", params={"pgNumber": "5100"})
    assert named.json() == {
        "number": 3,
        "reasons": [
            {"index": 1, "label": "Lunch"},
            {"index": 2, "label": "Training"},
            {"index": 3, "label": "Meeting"},
        ],
    }
    not_member = await agent1.get("/acd/agent/withdrawReasons", params={"pgNumber": "5200"})
    assert_error(not_member, 400, "BAD_PARAMETER", "not a member of processing group 5200")
    no_group = await agent1.get("/acd/agent/withdrawReasons")
    assert_error(no_group, 400, "BAD_PARAMETER", "pgNumber is needed")

    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    current = await agent1.get("/acd/agent/withdrawReasons")
    assert current.json()["number"] == 3


async def test_withdraw_with_a_reason_then_back_to_ready(session_of, subscribe) -> None:
    agent1 = await session_of("agent1")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    reader = await subscribe(agent1, names=["OnAgentStateChanged"])

    bad = await agent1.post("/acd/agent/withdraw", json={"reasonIndex": 4})
    assert_error(bad, 400, "BAD_PARAMETER", "reasonIndex 4")
    assert (await agent1.post("/acd/agent/withdraw", json={"reasonIndex": 2})).status_code == 204
    assert await state_of(agent1) == {
        "mainState": "LOG_ON",
        "subState": "WITHDRAW",
        "proAcdDeviceNumber": "2301",
        "pgNumber": "5100",
        "withdrawReason": 2,
        "withdrawn": True,
    }
    assert (await agent1.post("/acd/agent/withdraw", json={"reasonIndex": 1})).status_code == 204
    assert (await agent1.post("/acd/agent/withdraw")).status_code == 204  # no reason given
    assert (await agent1.post("/acd/agent/ready")).status_code == 204
    await reader.wait_for("OnAgentStateChanged", count=4)
    assert [acd_state(e).get("withdrawReason") for e in reader.events] == [2, 1, None, None]
    assert acd_state(reader.events[-1])["subState"] == "READY"
    assert "withdrawn" not in acd_state(reader.events[-1])


async def test_manual_wrapup_ends_in_ready_after_the_wrapup_time(session_of, subscribe) -> None:
    agent1 = await session_of("agent1")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    await agent1.post("/acd/agent/pause")
    reader = await subscribe(agent1, names=["agent"])

    assert (await agent1.post("/acd/agent/wrapUp")).status_code == 204
    await reader.wait_for("OnAgentStateChanged", count=2)
    assert [acd_state(e)["subState"] for e in reader.events] == ["WRAPUP", "READY"]


# -- supervisors: two-step logon, processing groups ---------------------------------------------


async def test_supervisor_two_step_logon(session_of, subscribe) -> None:
    supervisor = await session_of("supervisor")
    reader = await subscribe(supervisor, names=["agent"])

    answer = await supervisor.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2205"})
    assert answer.status_code == 204
    assert await state_of(supervisor) == {
        "mainState": "LOG_ON",
        "subState": "OUT_OF_PG",
        "proAcdDeviceNumber": "2205",
    }
    assert_error(await supervisor.post("/acd/agent/ready"), 400, "NOT_EXPECTED", "out of any")
    not_member = await supervisor.post("/acd/agent/enterPG", json={"pgGroupNumber": "5300"})
    assert_error(not_member, 400, "BAD_PARAMETER", "5300")

    assert (
        await supervisor.post("/acd/agent/enterPG", json={"pgGroupNumber": "5100"})
    ).status_code == 204
    assert (await state_of(supervisor))["pgNumber"] == "5100"
    twice = await supervisor.post("/acd/agent/enterPG", json={"pgGroupNumber": "5200"})
    assert_error(twice, 400, "NOT_EXPECTED", "already in processing group 5100")
    wrong_exit = await supervisor.post("/acd/agent/exitPG", json={"pgGroupNumber": "5200"})
    assert_error(wrong_exit, 400, "BAD_PARAMETER", "not in processing group 5200")
    assert (
        await supervisor.post("/acd/agent/exitPG", json={"pgGroupNumber": "5100"})
    ).status_code == 204

    # The logon request of a supervisor out of group, with its own number, enters the group.
    second_step = await supervisor.post(
        "/acd/agent/logon", json={"proAcdDeviceNumber": "2205", "pgGroupNumber": "5200"}
    )
    assert second_step.status_code == 204
    # An empty group number in exitPG is a logoff.
    assert (
        await supervisor.post("/acd/agent/exitPG", json={"pgGroupNumber": ""})
    ).status_code == 204

    await reader.wait_for("OnAgentStateChanged", count=5)
    assert [
        (acd_state(e).get("subState"), acd_state(e).get("pgNumber")) for e in reader.events
    ] == [
        ("OUT_OF_PG", None),
        ("READY", "5100"),
        ("OUT_OF_PG", None),
        ("READY", "5200"),
        (None, None),
    ]


async def test_enter_and_exit_pg_are_for_supervisors(session_of) -> None:
    agent1 = await session_of("agent1")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    enter = await agent1.post("/acd/agent/enterPG", json={"pgGroupNumber": "5100"})
    assert_error(enter, 403, "NOT_ALLOWED", "not an ACD supervisor")
    exit_ = await agent1.post("/acd/agent/exitPG", json={"pgGroupNumber": "5100"})
    assert_error(exit_, 403, "NOT_ALLOWED", "not an ACD supervisor")


# -- supervisor help ----------------------------------------------------------------------------


async def test_supervisor_help_requested_cancelled_and_rejected(
    sim: Simulator, session_of, subscribe
) -> None:
    agent1 = await session_of("agent1")
    supervisor = await session_of("supervisor")
    admin = await session_of("admin")
    reader = await subscribe(
        admin,
        names=["OnSupervisorHelpRequested", "OnSupervisorHelpCancelled"],
        ids=["agent1", "supervisor"],
    )
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    nobody = await agent1.post("/acd/agent/supervisorHelp")
    assert_error(nobody, 400, "NOT_EXPECTED", "No supervisor of processing group 5100")
    await supervisor.post(
        "/acd/agent/logon", json={"proAcdDeviceNumber": "2205", "pgGroupNumber": "5100"}
    )

    assert (await agent1.post("/acd/agent/supervisorHelp")).status_code == 204
    twice = await agent1.post("/acd/agent/supervisorHelp")
    assert_error(twice, 400, "NOT_EXPECTED", "already asked supervisor")
    # The supervisor rejects it, naming the agent by its pro-ACD set.
    wrong = await supervisor.delete("/acd/agent/supervisorHelp", params={"other": "2302"})
    assert_error(wrong, 400, "NOT_EXPECTED", "from 2302")
    assert (
        await supervisor.delete("/acd/agent/supervisorHelp", params={"other": "2301"})
    ).status_code == 204
    # The agent asks again and cancels it itself.
    assert (await agent1.post("/acd/agent/supervisorHelp")).status_code == 204
    wrong_peer = await agent1.delete("/acd/agent/supervisorHelp", params={"other": "2001"})
    assert_error(wrong_peer, 400, "BAD_PARAMETER", "not 2001")
    assert (
        await agent1.delete("/acd/agent/supervisorHelp", params={"other": "2205"})
    ).status_code == 204
    none_left = await agent1.delete("/acd/agent/supervisorHelp")
    assert_error(none_left, 400, "NOT_EXPECTED", "no pending help request")

    await reader.wait_for("OnSupervisorHelpCancelled", count=4)
    assert (
        reader.events
        == [
            {
                "eventName": "OnSupervisorHelpRequested",
                "loginName": "agent1",
                "agentNumber": "2205",
            },
            {
                "eventName": "OnSupervisorHelpRequested",
                "loginName": "supervisor",
                "agentNumber": "2301",
            },
            {
                "eventName": "OnSupervisorHelpCancelled",
                "loginName": "agent1",
                "agentNumber": "2205",
            },
            {
                "eventName": "OnSupervisorHelpCancelled",
                "loginName": "supervisor",
                "agentNumber": "2301",
            },
        ]
        * 2
    )


async def test_supervisors_do_not_ask_for_help_and_logoff_cancels_a_request(
    session_of, subscribe
) -> None:
    agent1 = await session_of("agent1")
    supervisor = await session_of("supervisor")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    await supervisor.post(
        "/acd/agent/logon", json={"proAcdDeviceNumber": "2205", "pgGroupNumber": "5100"}
    )
    own = await supervisor.post("/acd/agent/supervisorHelp")
    assert_error(own, 403, "NOT_ALLOWED", "only agents ask for help")

    reader = await subscribe(supervisor, names=["OnSupervisorHelpCancelled"])
    await agent1.post("/acd/agent/supervisorHelp")
    await agent1.post("/acd/agent/logoff")
    event = await reader.wait_for("OnSupervisorHelpCancelled")
    assert event["agentNumber"] == "2301"


# -- intrusion and permanent listening ----------------------------------------------------------


async def test_intrusion_rules(session_of) -> None:
    agent1 = await session_of("agent1")
    supervisor = await session_of("supervisor")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})

    logged_off = await supervisor.post("/acd/agent/intrusion", json={"agentNumber": "2301"})
    assert_error(logged_off, 400, "NOT_EXPECTED", "supervisor is not logged on")
    await supervisor.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2205"})
    no_call = await supervisor.post(
        "/acd/agent/intrusion", json={"agentNumber": "2301", "mode": "RESTRICTED"}
    )
    assert_error(no_call, 400, "NOT_EXPECTED", "Agent 2301 has no call in progress")
    unknown = await supervisor.post("/acd/agent/intrusion", json={"agentNumber": "2001"})
    assert_error(unknown, 400, "BAD_PARAMETER", "2001 is not the number of an ACD agent")
    bad_mode = await supervisor.post(
        "/acd/agent/intrusion", json={"agentNumber": "2301", "mode": "LOUD"}
    )
    assert_error(bad_mode, 400, "BAD_PARAMETER")
    not_intruding = await supervisor.put("/acd/agent/intrusion", json={"mode": "NORMAL"})
    assert_error(not_intruding, 400, "NOT_EXPECTED", "not in intrusion")
    by_agent = await agent1.post("/acd/agent/intrusion", json={"agentNumber": "2301"})
    assert_error(by_agent, 403, "NOT_ALLOWED", "not an ACD supervisor")
    by_agent = await agent1.post("/acd/agent/permanentListening", json={"agentNumber": "2301"})
    assert_error(by_agent, 403, "NOT_ALLOWED", "not an ACD supervisor")


async def test_permanent_listening_lasts_until_a_logoff(sim: Simulator, session_of) -> None:
    agent1 = await session_of("agent1")
    supervisor = await session_of("supervisor")
    await supervisor.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2205"})
    logged_off = await supervisor.post(
        "/acd/agent/permanentListening", json={"agentNumber": "2301"}
    )
    assert_error(logged_off, 400, "NOT_EXPECTED", "Agent 2301 is not logged on")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})

    answer = await supervisor.post("/acd/agent/permanentListening", json={"agentNumber": "2201"})
    assert answer.status_code == 204
    again = await supervisor.post("/acd/agent/permanentListening", json={"agentNumber": "2301"})
    assert_error(again, 400, "NOT_EXPECTED", "already supervises agent1")
    assert sim.pbx.acd.snapshot()["supervisor"]["supervision"] == {
        "agent": "agent1",
        "mode": "DISCRETE",
        "permanentListening": True,
    }
    await agent1.post("/acd/agent/logoff")
    assert "supervision" not in sim.pbx.acd.snapshot()["supervisor"]


async def test_intrusion_on_a_distributed_call_and_mode_changes(sim: Simulator, session_of) -> None:
    acd = sim.pbx.acd
    agent1 = await session_of("agent1")
    supervisor = await session_of("supervisor")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    await supervisor.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2205"})
    async with httpx.AsyncClient(base_url=sim.url) as control:
        placed = await control.post("/sim/calls", json={"from": "+33140000099", "to": "5000"})
        call_ref = placed.json()["callRef"]
        assert (await control.post("/sim/devices/2301/answer")).status_code == 204

        answer = await supervisor.post(
            "/acd/agent/intrusion", json={"agentNumber": "2301", "mode": "RESTRICTED"}
        )
        assert answer.status_code == 204
        assert acd.snapshot()["supervisor"]["supervision"] == {
            "agent": "agent1",
            "mode": "RESTRICTED",
            "callRef": call_ref,
        }
        assert (
            await supervisor.put("/acd/agent/intrusion", json={"mode": "NORMAL"})
        ).status_code == 204
        assert acd.snapshot()["supervisor"]["supervision"]["mode"] == "NORMAL"
        # Asking for the mode in use drops the supervisor from the call.
        assert (
            await supervisor.put("/acd/agent/intrusion", json={"mode": "NORMAL"})
        ).status_code == 204
        assert "supervision" not in acd.snapshot()["supervisor"]

        await supervisor.post("/acd/agent/intrusion", json={"agentNumber": "2301"})
        assert acd.snapshot()["supervisor"]["supervision"]["callRef"] == call_ref
        await control.post("/sim/externals/+33140000099/hangup")
    assert "supervision" not in acd.snapshot()["supervisor"]  # the intrusion ends with the call


# -- snapshot -----------------------------------------------------------------------------------


async def test_state_snapshot_sends_the_state_event(session_of, subscribe) -> None:
    agent1 = await session_of("agent1")
    reader = await subscribe(agent1, names=["agent"])
    assert (await agent1.post("/acd/agent/state/snapshot")).status_code == 204
    event = await reader.wait_for("OnAgentStateChanged")
    assert event == {
        "eventName": "OnAgentStateChanged",
        "loginName": "agent1",
        "state": {"mainState": "LOG_OFF"},
    }


async def test_administrator_snapshot_of_one_agent(session_of, subscribe) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["agent"], ids=["*"])
    answer = await admin.post("/acd/agent/state/snapshot", params={"loginName": "agent3"})
    assert answer.status_code == 204
    event = await reader.wait_for("OnAgentStateChanged")
    assert event["loginName"] == "agent3"


async def test_administrator_snapshot_of_every_agent(session_of, subscribe) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["agent"], ids=["*"])
    assert (await admin.post("/acd/agent/state/snapshot")).status_code == 204
    await reader.wait_for("OnAgentStateChanged", count=5)
    assert {e["loginName"] for e in reader.events} == {
        "agent1",
        "agent2",
        "agent3",
        "agent4",
        "supervisor",
    }


# -- distribution contract with the call model ---------------------------------------------------


async def test_pick_agent_takes_the_agent_idle_the_longest(sim: Simulator) -> None:
    acd = sim.pbx.acd
    async with httpx.AsyncClient(base_url=sim.url) as control:
        assert acd.pick_agent("5000") is None
        for login in ("agent2", "agent3", "agent1"):
            await control.post(f"/sim/agents/{login}/logon")
        assert acd.pick_agent("5000") == ("agent2", "2302")
        assert acd.pick_agent("5000") == ("agent3", "2303")  # agent2 is reserved
        assert acd.pick_agent("5000") == ("agent1", "2301")
        assert acd.pick_agent("5000") is None
        assert acd.pick_agent("2001") is None  # not a pilot

        # agent3's offer was never answered: available again, behind the others.
        acd.agent_call_ended("agent3", "never-answered")
        acd.agent_call_ended("agent1", "never-answered")
        assert acd.pick_agent("5000") == ("agent3", "2303")
        # A paused agent is not picked; it is again, idle the shortest, once ready.
        await control.post("/sim/agents/agent4/logon")
        await control.post("/sim/agents/agent4/pause")
        assert acd.pick_agent("5000") == ("agent1", "2301")
        await control.post("/sim/agents/agent4/ready")
        assert acd.pick_agent("5000") == ("agent4", "2304")


async def test_distributed_call_busy_wrapup_ready(sim: Simulator, session_of, subscribe) -> None:
    acd = sim.pbx.acd
    agent1 = await session_of("agent1")
    reader = await subscribe(agent1, names=["agent"])
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    assert acd.pick_agent("5000") == ("agent1", "2301")
    for path in ("pause", "logoff"):
        refused = await agent1.post(f"/acd/agent/{path}")
        assert_error(refused, 400, "NOT_EXPECTED", "distributed call in progress")

    acd.agent_call_started("agent1", "c0ffee")
    assert (await state_of(agent1))["subState"] == "BUSY"
    refused = await agent1.post("/acd/agent/withdraw", json={"reasonIndex": 1})
    assert_error(refused, 400, "NOT_EXPECTED", "distributed call in progress")
    acd.agent_call_ended("agent1", "c0ffee")

    await reader.wait_for("OnAgentStateChanged", count=4)
    assert [acd_state(e)["subState"] for e in reader.events] == ["READY", "BUSY", "WRAPUP", "READY"]
    assert acd.pick_agent("5000") == ("agent1", "2301")


async def test_sim_state_lists_agents(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as control:
        await control.post("/sim/agents/agent1/logon")
        state = (await control.get("/sim/state")).json()
    assert state["acd"]["agent1"]["state"]["subState"] == "READY"
    assert state["acd"]["supervisor"] == {"type": "SUPERVISOR", "state": {"mainState": "LOG_OFF"}}


# -- control API --------------------------------------------------------------------------------


async def test_control_api_agent_by_hand(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as control:
        logon = await control.post(
            "/sim/agents/agent3/logon", json={"proacd": "2303", "pg": "5200"}
        )
        assert logon.json() == {
            "loginName": "agent3",
            "state": {
                "mainState": "LOG_ON",
                "subState": "READY",
                "proAcdDeviceNumber": "2303",
                "pgNumber": "5200",
            },
        }
        assert (await control.post("/sim/agents/agent3/pause")).json()["state"][
            "subState"
        ] == "PAUSE"
        assert (await control.post("/sim/agents/agent3/ready")).json()["state"][
            "subState"
        ] == "READY"
        logoff = await control.post("/sim/agents/agent3/logoff")
        assert logoff.json()["state"] == {"mainState": "LOG_OFF"}

        assert_error(await control.post("/sim/agents/nobody/ready"), 404, "NOT_FOUND", "nobody")
        bad_field = await control.post("/sim/agents/agent3/logon", json={"group": "5200"})
        assert_error(bad_field, 400, "BAD_PARAMETER", "unknown field 'group'")
        bad_type = await control.post("/sim/agents/agent3/logon", json={"pg": 5200})
        assert_error(bad_type, 400, "BAD_PARAMETER", "pg must be a string")
        supervisor = await control.post("/sim/agents/supervisor/logon")
        assert supervisor.json()["state"]["subState"] == "OUT_OF_PG"
