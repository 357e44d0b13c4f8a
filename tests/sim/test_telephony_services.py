"""The non-call telephony endpoints: devices, switch device, desk sharing, state and snapshot,
callbacks, mini-messages and hunting groups.

Alice has a second device here (softphone 2801), so a call can move between her devices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.sim import Simulator, load_pbx_file
from o2g_flows.sim.pbx.config import Device

from .conftest import assert_error

TIMING = {"ring_timeout": 5.0, "voicemail_message": 0.05}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The default PBX where alice also has the softphone 2801."""
    config = load_pbx_file()
    alice = next(user for user in config.users if user.login == "alice")
    alice.devices.append(Device(id="2801", type="SOFTPHONE"))
    async with Simulator(config, timing=TIMING) as simulator:
        yield simulator


async def dial(client: httpx.AsyncClient, callee: str) -> str:
    answer = await client.post("/telephony/calls", json={"callee": callee, "autoAnswer": True})
    assert answer.status_code == 201, answer.text
    return answer.json()


# -- devices ------------------------------------------------------------------------------------


async def test_device_states(session_of) -> None:
    alice = await session_of("alice")
    states = (await alice.get("/telephony/devices")).json()["deviceStates"]
    assert states == [
        {"deviceId": "2001", "state": "IN_SERVICE"},
        {"deviceId": "2801", "state": "IN_SERVICE"},
    ]
    one = await alice.get("/telephony/devices/2801")
    assert one.json() == {"deviceId": "2801", "state": "IN_SERVICE"}
    assert_error(await alice.get("/telephony/devices/2002"), 403, "NOT_ALLOWED")
    assert_error(await alice.get("/telephony/devices/9999"), 400, "BAD_PARAMETER")


async def test_switch_a_call_to_another_device(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(alice, names=["OnCallModified"])
    call_ref = await dial(bob, "2001")
    switch = f"/telephony/calls/{call_ref}/deviceLegs/2001"
    ringing = await alice.post(switch, json={"otherDeviceId": "2801"})
    assert_error(ringing, 400, "NOT_EXPECTED")
    await alice.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": "2001"})
    assert (await alice.post(switch, json={"otherDeviceId": "2801"})).status_code == 204
    event = await reader.wait_for("OnCallModified", 2)
    assert [leg["deviceId"] for leg in event["removedLegs"]] == ["2001"]
    assert event["addedLegs"][0]["deviceId"] == "2801"
    assert event["addedLegs"][0]["state"] == "ACTIVE"
    legs = (await alice.get(f"/telephony/calls/{call_ref}/deviceLegs")).json()["legs"]
    assert [leg["deviceId"] for leg in legs] == ["2801"]
    assert_error(await alice.post(switch, json={"otherDeviceId": "2801"}), 404, "NOT_FOUND")
    other = f"/telephony/calls/{call_ref}/deviceLegs/2801"
    assert_error(await alice.post(other, json={"otherDeviceId": "2002"}), 403, "NOT_ALLOWED")


# -- desk sharing -------------------------------------------------------------------------------


async def test_desk_sharing_moves_the_users_calls_to_the_set(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(alice, names=["telephony"])
    assert_error(await alice.delete("/telephony/deskSharing"), 400, "NOT_EXPECTED")
    taken = await alice.post("/telephony/deskSharing", json={"dssDeviceNumber": "2002"})
    assert_error(taken, 400, "BAD_PARAMETER")
    logon = await alice.post("/telephony/deskSharing", json={"dssDeviceNumber": "2950"})
    assert logon.status_code == 204
    event = await reader.wait_for("OnDeviceStateModified")
    assert event["deviceStates"] == [{"deviceId": "2950", "state": "IN_SERVICE"}]
    call_ref = await dial(bob, "2001")
    created = await reader.wait_for("OnCallCreated")
    assert created["legs"][0]["deviceId"] == "2950"
    busy = await alice.delete("/telephony/deskSharing")
    assert_error(busy, 400, "NOT_EXPECTED")
    await bob.delete(f"/telephony/calls/{call_ref}")
    assert (await alice.delete("/telephony/deskSharing")).status_code == 204
    event = await reader.wait_for("OnDeviceStateModified", 2)
    assert event["deviceStates"] == [{"deviceId": "2950", "state": "OUT_OF_SERVICE"}]


# -- state --------------------------------------------------------------------------------------


async def test_telephonic_state_and_snapshot(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    await bob.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": "2002"})
    state = (await alice.get("/telephony/state")).json()
    assert state["userState"] == "BUSY"
    assert [call["callRef"] for call in state["calls"]] == [call_ref]
    assert [c["deviceId"] for c in state["deviceCapabilities"]] == ["2001", "2801"]
    reader = await subscribe(bob, names=["OnTelephonyState"])
    assert (await bob.post("/telephony/state/snapshot")).status_code == 204
    event = await reader.wait_for("OnTelephonyState")
    assert event["loginName"] == "bob"
    assert event["state"]["calls"][0]["legs"][0]["state"] == "ACTIVE"


async def test_an_administrator_asks_a_snapshot_for_a_user(session_of, subscribe) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["OnTelephonyState"], ids=["carol"])
    answer = await admin.post("/telephony/state/snapshot", params={"loginName": "carol"})
    assert answer.status_code == 204
    event = await reader.wait_for("OnTelephonyState")
    assert event["state"] == {
        "calls": [],
        "deviceCapabilities": [
            {"deviceId": "2003", "makeCall": True, "makeBusinessCall": True, "unParkCall": True}
        ],
        "userState": "FREE",
    }


async def test_an_administrator_snapshot_of_every_user(sim, session_of, subscribe) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["OnTelephonyState"], ids=["*"])
    assert (await admin.post("/telephony/state/snapshot")).status_code == 204
    await reader.wait_for("OnTelephonyState", count=len(sim.pbx.users))
    assert {e["loginName"] for e in reader.events} == set(sim.pbx.users)


async def test_a_basic_user_may_not_use_advanced_telephony(session_of) -> None:
    basic = await session_of("basic")
    assert_error(await basic.get("/telephony/calls"), 403, "NOT_ALLOWED")


# -- callbacks ----------------------------------------------------------------------------------


async def test_callback_requests(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(bob, names=["eventSummary"])
    for _ in range(2):
        sent = await alice.post("/telephony/outgoingCallbacks", json={"callee": "2002"})
        assert sent.status_code == 204
    summary = await reader.wait_for("OnEventSummaryUpdated", 2)
    assert summary["eventSummary"]["callBackRequestsNb"] == 2
    callbacks = (await bob.get("/telephony/incomingCallbacks")).json()["callbacks"]
    assert [c["partyInfo"]["id"]["phoneNumber"] for c in callbacks] == ["2001", "2001"]
    first = callbacks[0]["callbackId"]
    assert (await bob.delete(f"/telephony/incomingCallbacks/{first}")).status_code == 204
    assert_error(await bob.delete(f"/telephony/incomingCallbacks/{first}"), 404, "NOT_FOUND")
    assert (await bob.delete("/telephony/incomingCallbacks")).status_code == 204
    assert (await bob.get("/telephony/incomingCallbacks")).json() == {"callbacks": []}
    summary = await reader.wait_for("OnEventSummaryUpdated", 4)
    assert summary["eventSummary"]["callBackRequestsNb"] == 0
    unknown = await alice.post("/telephony/outgoingCallbacks", json={"callee": "+331"})
    assert_error(unknown, 400, "BAD_PARAMETER")


# -- mini-messages ------------------------------------------------------------------------------


async def test_mini_messages_are_read_newest_first(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(bob, names=["eventSummary"])
    for text in ("first", "second"):
        sent = await alice.post(
            "/telephony/miniMessages", json={"recipient": "2002", "message": text}
        )
        assert sent.status_code == 204
    summary = await reader.wait_for("OnEventSummaryUpdated", 2)
    assert summary["eventSummary"]["newTextNb"] == 2
    newest = (await bob.get("/telephony/miniMessages")).json()
    assert newest["message"] == "second" and newest["sender"] == "2001"
    assert (await bob.get("/telephony/miniMessages")).json()["message"] == "first"
    assert_error(await bob.get("/telephony/miniMessages"), 400, "BAD_PARAMETER")
    summary = await reader.wait_for("OnEventSummaryUpdated", 4)
    assert summary["eventSummary"]["newTextNb"] == 0
    assert summary["eventSummary"]["oldTextNb"] == 2
    nobody = await alice.post("/telephony/miniMessages", json={"recipient": "7777", "message": "x"})
    assert_error(nobody, 400, "BAD_PARAMETER")


# -- hunting groups -----------------------------------------------------------------------------


async def test_hunting_group_membership_and_logon(session_of, subscribe) -> None:
    alice, carol = await session_of("alice"), await session_of("carol")
    reader = await subscribe(alice, names=["OnDynamicStateChanged"])
    groups = (await alice.get("/telephony/huntingGroups")).json()
    assert groups == {"hgList": ["2100"], "currentHg": "2100"}
    assert (await alice.get("/telephony/huntingGroupLogOn")).json() == {"logon": True}
    assert (await alice.delete("/telephony/huntingGroupLogOn")).status_code == 204
    assert (await alice.get("/telephony/huntingGroupLogOn")).json() == {"logon": False}
    event = await reader.wait_for("OnDynamicStateChanged")
    assert event["huntingGroupState"] == {"logon": False}
    assert (await alice.post("/telephony/huntingGroupLogOn")).status_code == 204
    assert (await alice.get("/telephony/huntingGroupLogOn")).json() == {"logon": True}

    assert (await carol.get("/telephony/huntingGroups")).json() == {"hgList": ["2100"]}
    assert_error(await carol.get("/telephony/huntingGroupLogOn"), 400, "NOT_EXPECTED")
    assert_error(await carol.post("/telephony/huntingGroupMember/2999"), 404, "NOT_FOUND")
    assert (await carol.post("/telephony/huntingGroupMember/2100")).status_code == 204
    assert (await carol.get("/telephony/huntingGroups")).json()["currentHg"] == "2100"
    assert (await carol.delete("/telephony/huntingGroupMember/2100")).status_code == 204
    assert (await carol.delete("/telephony/huntingGroupMember/2100")).status_code == 204
    assert "currentHg" not in (await carol.get("/telephony/huntingGroups")).json()
