"""The control API for calls: the outside world dials, answers and hangs up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.sim import Simulator

from .conftest import assert_error

VICTOR = "+33140000001"  # an external number of the default PBX


@pytest.fixture
async def world(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the control API (no session)."""
    async with httpx.AsyncClient(base_url=sim.url) as client:
        yield client


async def test_an_external_party_calls_a_user(world, session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    placed = await world.post("/sim/calls", json={"from": VICTOR, "to": "2001"})
    assert placed.status_code == 201
    call_ref = placed.json()["callRef"]
    created = await reader.wait_for("OnCallCreated")
    assert created["callRef"] == call_ref
    assert created["participants"][0]["identity"] == {
        "id": {"phoneNumber": VICTOR},
        "firstName": "Victor",
        "lastName": "Vip",
        "displayName": "",
        "type": {"main": "EXTERNAL"},
    }
    assert (await world.post("/sim/devices/2001/answer")).status_code == 204
    await reader.wait_for("OnUserStateModified", state="BUSY")
    assert (await world.post(f"/sim/externals/{VICTOR}/hangup")).status_code == 204
    removed = await reader.wait_for("OnCallRemoved")
    assert removed["cause"] == "CLEARED"
    await reader.wait_for("OnUserStateModified", state="FREE")


async def test_an_external_party_answers_only_when_told(world, session_of) -> None:
    alice = await session_of("alice")
    made = await alice.post("/telephony/calls", json={"callee": "+33612345678", "autoAnswer": True})
    call_ref = made.json()
    call = (await alice.get(f"/telephony/calls/{call_ref}")).json()
    assert call["legs"][0]["state"] == "RINGING_OUTGOING"
    assert call["participants"][0]["identity"]["lastName"] == "Mobile"
    answered = await world.post("/sim/externals/+33612345678/answer", json={"callRef": call_ref})
    assert answered.status_code == 204
    call = (await alice.get(f"/telephony/calls/{call_ref}")).json()
    assert call["legs"][0]["state"] == "ACTIVE"
    assert (await world.post("/sim/devices/2001/hangup")).status_code == 204
    assert (await alice.get("/telephony/calls")).json()["calls"] == []


async def test_users_dial_and_hang_up_by_hand(world, session_of) -> None:
    bob, carol = await session_of("bob"), await session_of("carol")
    placed = await world.post("/sim/calls", json={"from": "2002", "to": "2003"})
    assert placed.status_code == 201
    first = placed.json()["callRef"]
    assert (await bob.get(f"/telephony/calls/{first}")).json()["legs"][0]["state"] == (
        "RINGING_OUTGOING"
    )
    dialled = await world.post("/sim/devices/2003/dial", json={"to": "2004"})
    assert dialled.status_code == 201
    second = dialled.json()["callRef"]
    calls = (await carol.get("/telephony/calls")).json()["calls"]
    assert {c["callRef"] for c in calls} == {first, second}
    rejected = await world.post("/sim/devices/2003/hangup", json={"callRef": first})
    assert rejected.status_code == 204
    assert (await bob.get("/telephony/calls")).json()["calls"] == []


async def test_a_user_rejects_a_ringing_call_by_hanging_up(world, session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["OnCallRemoved"])
    await alice.post("/telephony/calls", json={"callee": "2002", "autoAnswer": True})
    assert (await world.post("/sim/devices/2002/hangup")).status_code == 204
    removed = await reader.wait_for("OnCallRemoved")
    assert removed["cause"] == "BUSY"


async def test_control_errors_are_rest_error_infos(world) -> None:
    assert_error(await world.post("/sim/calls", json={"from": VICTOR}), 400, "BAD_PARAMETER")
    assert_error(await world.post("/sim/calls", content=b"{not json"), 400, "BAD_PARAMETER")
    assert_error(
        await world.post("/sim/calls", json={"from": VICTOR, "to": ["2001"]}), 400, "BAD_PARAMETER"
    )
    assert_error(
        await world.post("/sim/calls", json={"from": VICTOR, "to": "hello"}), 400, "BAD_PARAMETER"
    )
    assert_error(
        await world.post("/sim/calls", json={"from": "2100", "to": "2001"}), 400, "BAD_PARAMETER"
    )
    assert_error(await world.post("/sim/devices/9999/answer"), 404, "NOT_FOUND")
    assert_error(await world.post("/sim/devices/9999/dial", json={"to": "2001"}), 404, "NOT_FOUND")
    assert_error(await world.post("/sim/devices/2001/answer"), 400, "NOT_EXPECTED")
    assert_error(await world.post("/sim/devices/2001/hangup"), 400, "NOT_EXPECTED")
    assert_error(
        await world.post("/sim/devices/2001/answer", json={"callRef": "0123456789abcdef"}),
        404,
        "NOT_FOUND",
    )
    assert_error(await world.post(f"/sim/externals/{VICTOR}/answer"), 400, "NOT_EXPECTED")
    assert_error(await world.post(f"/sim/externals/{VICTOR}/hangup"), 400, "NOT_EXPECTED")
    state = (await world.get("/sim/state")).json()["calls"]
    assert state["calls"] == [] and state["userStates"] == {}
