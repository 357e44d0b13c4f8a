"""ACD scenarios over real HTTP: pilot calls queued, distributed, answered, wrapped up."""

from __future__ import annotations

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


async def test_supervisor_intrudes_on_a_distributed_call(
    sim: Simulator, control, session_of, subscribe
) -> None:
    supervisor = await session_of("supervisor")
    await supervisor.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2205"})
    reader = await watch_agents(session_of, subscribe, "agent1")
    await control.post("/sim/agents/agent1/logon")
    call_ref = await call_pilot(control)
    await reader.wait_for("OnCallCreated")
    await control.post("/sim/devices/2301/answer")
    await reader.wait_for("OnAgentStateChanged", count=2)

    answer = await supervisor.post(
        "/acd/agent/intrusion", json={"agentNumber": "2301", "mode": "DISCRETE"}
    )
    assert answer.status_code == 204
    supervision = (await control.get("/sim/state")).json()["acd"]["supervisor"]["supervision"]
    assert supervision == {"agent": "agent1", "mode": "DISCRETE", "callRef": call_ref}

    await control.post(f"/sim/externals/{CUSTOMER}/hangup")
    await reader.wait_for("OnAgentStateChanged", count=3)
    assert "supervision" not in (await control.get("/sim/state")).json()["acd"]["supervisor"]
