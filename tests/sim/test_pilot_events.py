"""The ``pilot`` event package: calls entering, waiting at and leaving pilot 5000."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.sim import Simulator

from .conftest import assert_error

TIMING = {"wrapup": 0.2, "ring_timeout": 0.3, "keepalive_interval": 0.2, "channel_minute": 0.5}
CUSTOMER, VIP = "+33140000099", "+33140000001"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(timing=TIMING) as simulator:
        yield simulator


@pytest.fixture
async def control(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as client:
        yield client


async def call_pilot(control: httpx.AsyncClient, caller: str) -> str:
    answer = await control.post("/sim/calls", json={"from": caller, "to": "5000"})
    assert answer.status_code == 201, answer.text
    return answer.json()["callRef"]


async def test_a_waiting_call_is_created_queued_then_abandoned(
    control, session_of, subscribe
) -> None:
    supervisor = await session_of("supervisor")
    reader = await subscribe(supervisor, names=["pilot"])
    first = await call_pilot(control, CUSTOMER)
    assert await reader.wait_for("OnPilotCallCreated") == {
        "eventName": "OnPilotCallCreated",
        "pilot": "5000",
        "caller": CUSTOMER,
        "callRef": first,
        "cause": "ACD_ENTER_DISTRIBUTION",
        "callData": {"initialCalled": "5000", "anonymous": False},
    }
    assert await reader.wait_for("OnPilotCallQueued") == {
        "eventName": "OnPilotCallQueued",
        "pilot": "5000",
        "caller": CUSTOMER,
        "queue": "5100",
        "callRef": first,
        "cause": "ACD_ENTER_DISTRIBUTION",
        "numberOfQueued": 1,
    }
    second = await call_pilot(control, VIP)
    assert (await reader.wait_for("OnPilotCallQueued", 2))["numberOfQueued"] == 2
    hung_up = await control.post(f"/sim/externals/{CUSTOMER}/hangup", json={"callRef": first})
    assert hung_up.status_code == 204, hung_up.text
    assert await reader.wait_for("OnPilotCallRemoved") == {
        "eventName": "OnPilotCallRemoved",
        "pilot": "5000",
        "releasingDevice": CUSTOMER,
        "callRef": first,
        "cause": "ABANDONED",
    }
    assert reader.names() == [
        "OnPilotCallCreated",
        "OnPilotCallQueued",
        "OnPilotCallCreated",
        "OnPilotCallQueued",
        "OnPilotCallRemoved",
    ]
    assert second != first


async def test_a_waiting_call_is_distributed_then_requeued_when_unanswered(
    control, session_of, subscribe
) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["pilot"], ids=["5000"])
    call_ref = await call_pilot(control, CUSTOMER)
    await reader.wait_for("OnPilotCallQueued")
    agent1 = await session_of("agent1")
    assert (await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})).is_success
    assert await reader.wait_for("OnPilotCallRemoved") == {
        "eventName": "OnPilotCallRemoved",
        "pilot": "5000",
        "newDestination": "2301",
        "callRef": call_ref,
        "cause": "DISTRIBUTED",
    }
    requeued = await reader.wait_for("OnPilotCallQueued", 2)  # agent1 did not answer in time
    assert (requeued["cause"], requeued["callRef"], requeued["numberOfQueued"]) == (
        "NOT_ANSWERED",
        call_ref,
        1,
    )


async def test_who_may_subscribe_to_pilot_events(session_of, subscribe) -> None:
    body = {"version": "1.0", "timeout": 0}
    alice = await session_of("alice")
    refused = await alice.post(
        "/subscriptions", json={**body, "filter": {"selectors": [{"names": ["pilot"]}]}}
    )
    assert_error(refused, 403, "NOT_ALLOWED", "supervisors")
    admin = await session_of("admin")
    unknown = await admin.post(
        "/subscriptions",
        json={**body, "filter": {"selectors": [{"names": ["pilot"], "ids": ["5999"]}]}},
    )
    assert_error(unknown, 404, "NOT_FOUND", "5999")
    # a user subscribing with no filter gets every package it may select, and not pilot
    default = await alice.post("/subscriptions", json=body)
    assert default.json()["status"] == "ACCEPTED"


async def test_pilot_events_do_not_reach_users_or_other_pilots(
    control, session_of, subscribe
) -> None:
    alice = await session_of("alice")
    everything = await subscribe(alice, names=["telephony"])
    admin = await session_of("admin")
    pilots = await subscribe(admin, names=["OnPilotCallQueued"], ids=["5000"])
    await call_pilot(control, CUSTOMER)
    await pilots.wait_for("OnPilotCallQueued")
    assert pilots.names() == ["OnPilotCallQueued"]  # an event name selects only that event
    assert everything.names() == []
