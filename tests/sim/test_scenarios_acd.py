"""ACD scenarios over real HTTP: pilot calls queued, distributed, answered, wrapped up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.sim import Simulator

#: Long enough that an offered call never overflows before the test answers it.
TIMING = {"wrapup": 0.2, "ring_timeout": 30, "keepalive_interval": 0.2, "channel_minute": 0.5}
CUSTOMER = "+33140000099"


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """The ACD PBX; ``indirect`` parametrisation overrides timings."""
    timing = {**TIMING, **getattr(request, "param", {})}
    async with Simulator(timing=timing) as simulator:
        yield simulator


@pytest.fixture
async def control(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """The control API: the outside world and people at their sets."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as client:
        yield client


async def watch_agents(session_of, subscribe, *logins: str):
    """An administrator's subscription to the agent and telephony events of ``logins``."""
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["agent"], ids=list(logins))
    answer = await admin.put(
        "/subscriptions",
        json={
            "selectors": [
                {"ids": list(logins), "names": ["agent"]},
                {"ids": list(logins), "names": ["telephony"]},
            ]
        },
    )
    assert answer.status_code == 204, answer.text
    return reader


async def call_pilot(control: httpx.AsyncClient, caller: str = CUSTOMER) -> str:
    answer = await control.post("/sim/calls", json={"from": caller, "to": "5000"})
    assert answer.status_code == 201, answer.text
    return answer.json()["callRef"]


def summary(event: dict) -> tuple:
    """What matters in an event of the sequence: its name and its state or cause."""
    name = event["eventName"]
    if name == "OnAgentStateChanged":
        return name, event["state"].get("subState")
    if name == "OnUserStateModified":
        return name, event["state"]
    if name == "OnCallModified":
        return name, event["callData"]["state"]
    return name, event.get("cause")


async def test_pilot_call_waits_for_a_ready_agent_then_busy_wrapup_ready(
    sim: Simulator, control, session_of, subscribe
) -> None:
    agent1 = await session_of("agent1")
    await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})
    await agent1.post("/acd/agent/pause")
    reader = await watch_agents(session_of, subscribe, "agent1")

    call_ref = await call_pilot(control)
    state = (await control.get("/sim/state")).json()
    assert state["calls"]["queues"]["5000"] == [call_ref]  # no agent ready: queued

    assert (await agent1.post("/acd/agent/ready")).status_code == 204
    offered = await reader.wait_for("OnCallCreated", loginName="agent1")
    assert offered["callRef"] == call_ref
    assert offered["cause"] == "DISTRIBUTED"
    assert offered["legs"] == [
        {"deviceId": "2301", "state": "RINGING_INCOMING", "capabilities": {"answer": True}}
    ]
    assert offered["participants"][0]["participantId"] == CUSTOMER
    assert offered["callData"]["acdCallData"]["pilotNumber"] == "5000"
    assert offered["callData"]["acdCallData"]["callInfo"]["agentGroup"] == "5100"
    # The set that rings is described, besides the agent's desk set.
    assert [d["deviceId"] for d in offered["deviceCapabilities"]] == ["2201", "2301"]

    answer = await agent1.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": "2301"})
    assert answer.status_code == 204, answer.text
    await reader.wait_for("OnAgentStateChanged", count=2)
    assert (await agent1.get("/acd/agent/state")).json()["subState"] == "BUSY"

    assert (await agent1.delete(f"/telephony/calls/{call_ref}")).status_code == 204
    await reader.wait_for("OnAgentStateChanged", count=4)
    assert [summary(e) for e in reader.events] == [
        ("OnAgentStateChanged", "READY"),
        ("OnCallCreated", "DISTRIBUTED"),
        ("OnCallModified", "ACTIVE"),
        ("OnUserStateModified", "BUSY"),
        ("OnAgentStateChanged", "BUSY"),
        ("OnCallRemoved", "CLEARED"),  # the agent hung up: no RELEASING leg on its side
        ("OnUserStateModified", "FREE"),
        ("OnAgentStateChanged", "WRAPUP"),
        ("OnAgentStateChanged", "READY"),
    ]
    assert all(e["loginName"] == "agent1" for e in reader.events)
    assert {e["callRef"] for e in reader.events if "callRef" in e} == {call_ref}


async def test_the_agent_idle_the_longest_gets_the_next_call(
    sim: Simulator, control, session_of, subscribe
) -> None:
    reader = await watch_agents(session_of, subscribe, "agent1", "agent2")
    await control.post("/sim/agents/agent2/logon")
    await control.post("/sim/agents/agent1/logon")

    first = await call_pilot(control, "+33140000001")
    offered = await reader.wait_for("OnCallCreated")
    assert (offered["loginName"], offered["callRef"]) == ("agent2", first)
    await control.post("/sim/devices/2302/answer")
    await control.post("/sim/devices/2302/hangup")
    await reader.wait_for("OnAgentStateChanged", loginName="agent2", count=4)  # READY again

    # agent2 is READY again, but agent1 has been idle since its logon: it gets the next call.
    second = await call_pilot(control, "+33140000002")
    offered = await reader.wait_for("OnCallCreated", count=2)
    assert (offered["loginName"], offered["callRef"]) == ("agent1", second)
    states = [
        e["state"]["subState"]
        for e in reader.events
        if e["eventName"] == "OnAgentStateChanged" and e["loginName"] == "agent2"
    ]
    assert states == ["READY", "BUSY", "WRAPUP", "READY"]


@pytest.mark.parametrize("sim", [{"ring_timeout": 0.2}], indirect=True)
async def test_an_offer_nobody_answers_goes_to_the_next_agent(
    sim: Simulator, control, session_of, subscribe
) -> None:
    reader = await watch_agents(session_of, subscribe, "agent1", "agent2")
    await control.post("/sim/agents/agent1/logon")
    await control.post("/sim/agents/agent2/logon")

    call_ref = await call_pilot(control)
    first = await reader.wait_for("OnCallCreated", loginName="agent1")
    assert first["callRef"] == call_ref
    # agent1 lets it ring: the call goes back to the queue, then to agent2.
    await reader.wait_for("OnCallRemoved", loginName="agent1")
    second = await reader.wait_for("OnCallCreated", loginName="agent2")
    assert (second["callRef"], second["cause"]) == (call_ref, "DISTRIBUTED")
    await control.post("/sim/devices/2302/answer")
    busy = await reader.wait_for("OnAgentStateChanged", loginName="agent2", count=2)
    assert busy["state"]["subState"] == "BUSY"
    assert not [
        e
        for e in reader.events
        if e["eventName"] == "OnAgentStateChanged"
        and e["loginName"] == "agent1"
        and e["state"]["subState"] != "READY"
    ]


# -- a supervisor in the agent's call ----------------------------------------------------------

ALICE = "2001"
AGENT = "2201"  # agent1's participantId (its company number); its pro-ACD set is 2301
SUPERVISOR = "2205"


def story(reader, login: str, since: int = 0) -> list[tuple]:
    """What ``login`` was told from event number ``since`` on, one tuple per event.

    Call events give (name, cause, call state, participants): OnCallCreated lists them all,
    OnCallModified the changes: "+id" added, "-id" removed, "~id" modified.
    """
    told: list[tuple] = []
    for event in reader.events[since:]:
        if event.get("loginName") != login:
            continue
        name = event["eventName"]
        if name == "OnAgentStateChanged":
            told.append((name, event["state"].get("subState") or event["state"]["mainState"]))
        elif name == "OnUserStateModified":
            told.append((name, event["state"]))
        elif name == "OnCallRemoved":
            told.append((name, event.get("cause")))
        else:
            people = [p["participantId"] for p in event.get("participants", [])]
            people += ["+" + p["participantId"] for p in event.get("addedParticipants", [])]
            people += ["-" + pid for pid in event.get("removedParticipantIds", [])]
            people += ["~" + p["participantId"] for p in event.get("modifiedParticipants", [])]
            told.append((name, event.get("cause"), event["callData"]["state"], people))
    return told


async def until(reader, login: str, entry: tuple, since: int = 0) -> None:
    """Wait until ``login`` was told ``entry`` (a tuple of ``story``)."""
    async with asyncio.timeout(3):
        while entry not in story(reader, login, since):
            await asyncio.sleep(0.01)


async def supervising(session_of) -> httpx.AsyncClient:
    """The supervisor's session, logged on its own set (out of any group)."""
    supervisor = await session_of("supervisor")
    answer = await supervisor.post("/acd/agent/logon", json={"proAcdDeviceNumber": SUPERVISOR})
    assert answer.status_code == 204, answer.text
    return supervisor


async def agent_answers(control: httpx.AsyncClient, reader, caller: str) -> str:
    """``caller`` calls the pilot and agent1 answers on its pro-ACD set; the callRef."""
    since = len(reader.events)
    call_ref = await call_pilot(control, caller)
    await until(reader, "agent1", ("OnCallCreated", "DISTRIBUTED", "RINGING_INCOMING", [caller]))
    assert (await control.post("/sim/devices/2301/answer")).status_code == 204
    await until(reader, "agent1", ("OnAgentStateChanged", "BUSY"), since)
    return call_ref


async def supervision(control: httpx.AsyncClient) -> dict | None:
    return (await control.get("/sim/state")).json()["acd"]["supervisor"].get("supervision")


async def dial(client: httpx.AsyncClient, callee: str) -> str:
    made = await client.post("/telephony/calls", json={"callee": callee, "autoAnswer": True})
    assert made.status_code == 201, made.text
    return made.json()


async def test_intrusion_modes_as_the_agent_the_supervisor_and_the_caller_see_them(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor", "alice")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await agent_answers(control, reader, ALICE)  # alice calls the pilot
    since = len(reader.events)

    normal = {"agentNumber": "2301", "mode": "NORMAL"}
    assert (await supervisor.post("/acd/agent/intrusion", json=normal)).status_code == 204
    joined = await reader.wait_for("OnCallCreated", loginName="supervisor")
    assert joined["callRef"] == call_ref
    assert joined["legs"] == [
        {"deviceId": SUPERVISOR, "state": "ACTIVE", "capabilities": {"drop": True}}
    ]
    assert joined["callData"]["capabilities"] == {"dropMe": True}
    assert joined["callData"]["acdCallData"]["pilotNumber"] == "5000"
    for mode in ("RESTRICTED", "DISCRETE"):
        assert (
            await supervisor.put("/acd/agent/intrusion", json={"mode": mode})
        ).status_code == 204
    assert await supervision(control) == {
        "agent": "agent1",
        "mode": "DISCRETE",
        "callRef": call_ref,
    }
    # Asking for the mode in use: the supervisor drops itself from the call (spec).
    assert (
        await supervisor.put("/acd/agent/intrusion", json={"mode": "DISCRETE"})
    ).status_code == 204
    await until(reader, "agent1", ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]))
    assert await supervision(control) is None

    assert (await control.post(f"/sim/devices/{ALICE}/hangup")).status_code == 204
    await until(reader, "agent1", ("OnAgentStateChanged", "READY"), since)
    assert story(reader, "supervisor", since) == [
        ("OnCallCreated", "SUPERVISOR_INTRUSION", "ACTIVE", [ALICE, AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", "SUPERVISOR_RESTRICT_INTRUSION", "ACTIVE", []),
        ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", []),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    for login, other in (("agent1", ALICE), ("alice", AGENT)):
        expected = [
            ("OnCallModified", "SUPERVISOR_INTRUSION", "ACTIVE", ["+2205"]),
            ("OnCallModified", "SUPERVISOR_RESTRICT_INTRUSION", "ACTIVE", ["~2205"]),
            ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", ["~2205"]),
            ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]),
        ]
        if login == "agent1":  # alice hung up: the agent's leg is released
            expected += [
                ("OnCallModified", None, "RELEASING", ["-" + other]),
                ("OnCallRemoved", "CLEARED"),
                ("OnUserStateModified", "FREE"),
                ("OnAgentStateChanged", "WRAPUP"),
                ("OnAgentStateChanged", "READY"),
            ]
        else:
            expected += [("OnCallRemoved", "CLEARED"), ("OnUserStateModified", "FREE")]
        assert story(reader, login, since) == expected, login


async def test_discrete_listening_ends_with_the_call(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await agent_answers(control, reader, CUSTOMER)
    since = len(reader.events)

    listen = {"agentNumber": "2301", "mode": "DISCRETE"}
    assert (await supervisor.post("/acd/agent/intrusion", json=listen)).status_code == 204
    assert await supervision(control) == {
        "agent": "agent1",
        "mode": "DISCRETE",
        "callRef": call_ref,
    }
    call = (await supervisor.get(f"/telephony/calls/{call_ref}")).json()
    assert [p["participantId"] for p in call["participants"]] == [CUSTOMER, AGENT]

    await control.post(f"/sim/externals/{CUSTOMER}/hangup")
    await until(reader, "supervisor", ("OnUserStateModified", "FREE"))
    await until(reader, "agent1", ("OnAgentStateChanged", "WRAPUP"), since)
    assert story(reader, "supervisor", since) == [
        ("OnCallCreated", "SUPERVISOR_LISTENING", "ACTIVE", [CUSTOMER, AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", None, "RELEASING", ["-" + CUSTOMER, "-" + AGENT]),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    assert story(reader, "agent1", since)[:5] == [
        ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", ["+2205"]),
        ("OnCallModified", None, "RELEASING", ["-" + CUSTOMER, "-2205"]),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
        ("OnAgentStateChanged", "WRAPUP"),
    ]
    assert await supervision(control) is None


async def test_the_supervisor_hangs_up_and_the_call_goes_on(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor", "alice")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await agent_answers(control, reader, ALICE)
    since = len(reader.events)
    restricted = {"agentNumber": "2301", "mode": "RESTRICTED"}
    assert (await supervisor.post("/acd/agent/intrusion", json=restricted)).status_code == 204

    # DELETE on the call only takes the supervisor out of it.
    assert (await supervisor.delete(f"/telephony/calls/{call_ref}")).status_code == 204
    await until(reader, "alice", ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]))
    assert story(reader, "supervisor", since) == [
        ("OnCallCreated", "SUPERVISOR_RESTRICT_INTRUSION", "ACTIVE", [ALICE, AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    for login in ("agent1", "alice"):
        assert story(reader, login, since) == [
            ("OnCallModified", "SUPERVISOR_RESTRICT_INTRUSION", "ACTIVE", ["+2205"]),
            ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]),
        ]
    assert await supervision(control) is None
    agent1 = await session_of("agent1")
    call = (await agent1.get(f"/telephony/calls/{call_ref}")).json()
    assert [p["participantId"] for p in call["participants"]] == [ALICE]


async def test_permanent_listening_joins_each_call_until_the_supervisor_hangs_up(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor")
    await control.post("/sim/agents/agent1/logon")
    listen = {"agentNumber": "2301"}
    assert (await supervisor.post("/acd/agent/permanentListening", json=listen)).status_code == 204

    first = await agent_answers(control, reader, CUSTOMER)
    await until(reader, "supervisor", ("OnUserStateModified", "BUSY"))
    assert (await supervision(control))["callRef"] == first
    assert (await control.post("/sim/devices/2301/hangup")).status_code == 204  # the agent
    await until(reader, "agent1", ("OnAgentStateChanged", "READY"), len(reader.events))
    assert await supervision(control) == {
        "agent": "agent1",
        "mode": "DISCRETE",
        "permanentListening": True,
    }

    since = len(reader.events)
    second = await agent_answers(control, reader, "+33140000001")
    await until(reader, "supervisor", ("OnUserStateModified", "BUSY"), since)
    assert (await supervisor.post(f"/telephony/calls/{second}/dropme")).status_code == 204
    await until(reader, "agent1", ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]))
    assert await supervision(control) is None  # hanging up ends the permanent listening too

    assert story(reader, "supervisor") == [
        ("OnCallCreated", "SUPERVISOR_LISTENING", "ACTIVE", [CUSTOMER, AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", None, "RELEASING", ["-" + CUSTOMER, "-" + AGENT]),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
        ("OnCallCreated", "SUPERVISOR_LISTENING", "ACTIVE", ["+33140000001", AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    assert story(reader, "agent1") == [
        ("OnAgentStateChanged", "READY"),
        ("OnCallCreated", "DISTRIBUTED", "RINGING_INCOMING", [CUSTOMER]),
        ("OnCallModified", None, "ACTIVE", []),
        ("OnUserStateModified", "BUSY"),
        ("OnAgentStateChanged", "BUSY"),
        ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", ["+2205"]),
        ("OnCallRemoved", "CLEARED"),  # the agent hung up
        ("OnUserStateModified", "FREE"),
        ("OnAgentStateChanged", "WRAPUP"),
        ("OnAgentStateChanged", "READY"),
        ("OnCallCreated", "DISTRIBUTED", "RINGING_INCOMING", ["+33140000001"]),
        ("OnCallModified", None, "ACTIVE", []),
        ("OnUserStateModified", "BUSY"),
        ("OnAgentStateChanged", "BUSY"),
        ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", ["+2205"]),
        ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]),
    ]
    assert first != second


async def test_a_supervisor_logging_off_leaves_the_call(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor")
    await control.post("/sim/agents/agent1/logon")
    await agent_answers(control, reader, CUSTOMER)
    since = len(reader.events)
    normal = {"agentNumber": "2201", "mode": "NORMAL"}  # the agent's company number works too
    assert (await supervisor.post("/acd/agent/intrusion", json=normal)).status_code == 204

    assert (await supervisor.post("/acd/agent/logoff")).status_code == 204
    await until(reader, "supervisor", ("OnAgentStateChanged", "LOG_OFF"))
    assert story(reader, "supervisor", since) == [
        ("OnCallCreated", "SUPERVISOR_INTRUSION", "ACTIVE", [CUSTOMER, AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
        ("OnAgentStateChanged", "LOG_OFF"),
    ]
    await until(reader, "agent1", ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]))
    assert (await control.get("/sim/state")).json()["acd"]["agent1"]["state"]["subState"] == "BUSY"


async def test_an_agent_transferring_the_call_takes_the_supervisor_out(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor", "bob")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await agent_answers(control, reader, CUSTOMER)
    since = len(reader.events)
    listen = {"agentNumber": "2301", "mode": "DISCRETE"}
    assert (await supervisor.post("/acd/agent/intrusion", json=listen)).status_code == 204

    agent1 = await session_of("agent1")
    moved = await agent1.post(
        f"/telephony/calls/{call_ref}/blindtransfer", json={"transferTo": "2002"}
    )
    assert moved.status_code == 204, moved.text
    await until(reader, "bob", ("OnCallCreated", "TRANSFERRED", "RINGING_INCOMING", [CUSTOMER]))
    await until(reader, "agent1", ("OnAgentStateChanged", "WRAPUP"), since)
    assert story(reader, "supervisor", since)[2:] == [
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    assert story(reader, "agent1", since) == [
        ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", ["+2205"]),
        ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]),
        ("OnCallRemoved", "TRANSFERRED"),
        ("OnUserStateModified", "FREE"),
        ("OnAgentStateChanged", "WRAPUP"),
    ]
    assert await supervision(control) is None


async def test_intrusion_needs_an_active_call_and_a_free_supervisor(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    agent1 = await session_of("agent1")
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await agent_answers(control, reader, CUSTOMER)
    intrusion = {"agentNumber": "2301", "mode": "NORMAL"}

    await agent1.post(f"/telephony/calls/{call_ref}/hold", json={"deviceId": "2301"})
    held = await supervisor.post("/acd/agent/intrusion", json=intrusion)
    assert (held.status_code, held.json()["type"]) == (400, "NOT_EXPECTED")
    assert "is not active (HELD)" in held.json()["innerMessage"]
    await agent1.post(f"/telephony/calls/{call_ref}/retrieve", json={"deviceId": "2301"})

    own = await dial(supervisor, "2002")
    await control.post("/sim/devices/2002/answer")
    busy = await supervisor.post("/acd/agent/intrusion", json=intrusion)
    assert (busy.status_code, busy.json()["type"]) == (400, "NOT_EXPECTED")
    assert "supervisor is busy on another call" in busy.json()["innerMessage"]
    await supervisor.delete(f"/telephony/calls/{own}")
    assert await supervision(control) is None

    assert (await supervisor.post("/acd/agent/intrusion", json=intrusion)).status_code == 204
    hold = await supervisor.post(f"/telephony/calls/{call_ref}/hold", json={"deviceId": SUPERVISOR})
    assert hold.status_code == 400 and "it can only leave it" in hold.json()["innerMessage"]
    # Taking the line for a new call ends the intrusion.
    await dial(supervisor, "2002")
    await until(reader, "agent1", ("OnCallModified", "PARTICIPANT_LEFT", "ACTIVE", ["-2205"]))
    assert await supervision(control) is None


async def test_permanent_listening_joins_the_call_in_progress(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await supervising(session_of)
    reader = await watch_agents(session_of, subscribe, "agent1", "supervisor")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await agent_answers(control, reader, CUSTOMER)
    since = len(reader.events)

    listen = {"agentNumber": "2301"}
    assert (await supervisor.post("/acd/agent/permanentListening", json=listen)).status_code == 204
    await until(reader, "agent1", ("OnCallModified", "SUPERVISOR_LISTENING", "ACTIVE", ["+2205"]))
    assert await supervision(control) == {
        "agent": "agent1",
        "mode": "DISCRETE",
        "permanentListening": True,
        "callRef": call_ref,
    }
    # Permanent listening is not an intrusion: its mode cannot be changed.
    changed = await supervisor.put("/acd/agent/intrusion", json={"mode": "NORMAL"})
    assert changed.status_code == 400

    assert (await supervisor.post("/acd/agent/logoff")).status_code == 204
    await until(reader, "supervisor", ("OnAgentStateChanged", "LOG_OFF"))
    assert story(reader, "supervisor", since) == [
        ("OnCallCreated", "SUPERVISOR_LISTENING", "ACTIVE", [CUSTOMER, AGENT]),
        ("OnUserStateModified", "BUSY"),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
        ("OnAgentStateChanged", "LOG_OFF"),
    ]
    assert await supervision(control) is None
