"""Call control through the client: the operations flows use, with their events and errors."""

from __future__ import annotations

import pytest

from o2g_flows.client import NotExpectedError, NotFoundError, O2GClient

NUMBERS = {"alice": "2001", "bob": "2002", "carol": "2003", "dave": "2004", "erin": "2005"}


async def connected(connect, caller: str = "alice", callee: str = "bob"):
    """Two users in an answered call: (caller client, callee client, callRef)."""
    a, b = await connect(caller), await connect(callee)
    call_ref = await a.telephony.make_call(NUMBERS[callee], auto_answer=True)
    await b.telephony.answer(call_ref, NUMBERS[callee])
    return a, b, call_ref


async def leg_state(o2g: O2GClient, call_ref: str) -> str:
    return (await o2g.telephony.get_call(call_ref))["legs"][0]["state"]


async def test_incoming_call_answered_from_its_events(connect, control, reader) -> None:
    alice = await connect("alice")
    events = reader(alice.events(await alice.subscribe(["telephony"])))
    call_ref = await control.call("+33140000001", "2001")
    created = await events.next("OnCallCreated")
    assert created["callRef"] == call_ref
    assert created["legs"][0]["state"] == "RINGING_INCOMING"
    await alice.telephony.answer(created["callRef"], created["legs"][0]["deviceId"])
    modified = await events.next("OnCallModified")
    assert modified["modifiedLegs"][0]["state"] == "ACTIVE"
    await alice.telephony.release(call_ref)
    assert (await events.next("OnCallRemoved"))["callRef"] == call_ref
    assert (await alice.telephony.get_calls())["calls"] == []


async def test_make_call_and_look_at_it(connect) -> None:
    alice, bob, call_ref = await connected(connect)
    call = await alice.telephony.get_call(call_ref)
    assert call["participants"][0]["participantId"] == "2002"
    assert [c["callRef"] for c in (await bob.telephony.get_calls())["calls"]] == [call_ref]
    legs = (await alice.telephony.get_legs(call_ref))["legs"]
    assert legs[0]["deviceId"] == "2001"
    participants = (await alice.telephony.get_participants(call_ref))["participants"]
    assert [p["participantId"] for p in participants] == ["2002"]
    state = await alice.telephony.get_state()
    assert [c["callRef"] for c in state["calls"]] == [call_ref]
    devices = await alice.telephony.get_device_states()
    assert devices["deviceStates"][0]["deviceId"] == "2001"


async def test_hold_and_retrieve(connect) -> None:
    alice, _, call_ref = await connected(connect)
    await alice.telephony.hold(call_ref, "2001")
    assert await leg_state(alice, call_ref) == "HELD"
    with pytest.raises(NotExpectedError) as caught:
        await alice.telephony.hold(call_ref, "2001")
    assert caught.value.telephony["errorType"] == "INCOMPATIBLE_WITH_STATE"
    await alice.telephony.retrieve(call_ref, "2001")
    assert await leg_state(alice, call_ref) == "ACTIVE"


async def test_consultation_then_transfer(connect) -> None:
    alice, bob, first = await connected(connect)
    carol = await connect("carol")
    second = await alice.telephony.make_call("2003", auto_answer=True)
    await carol.telephony.answer(second, "2003")
    await alice.telephony.transfer(second, first)
    assert (await alice.telephony.get_calls())["calls"] == []
    assert await leg_state(bob, first) == "ACTIVE"


async def test_blind_transfer_and_redirect(connect) -> None:
    alice, _, call_ref = await connected(connect)
    await alice.telephony.blind_transfer(call_ref, "2005")
    erin = await connect("erin")
    assert await leg_state(erin, call_ref) == "RINGING_INCOMING"
    await erin.telephony.redirect(call_ref, "2003")
    carol = await connect("carol")
    assert await leg_state(carol, call_ref) == "RINGING_INCOMING"


async def test_overflow_to_voicemail(connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    call_ref = await alice.telephony.make_call("2002", auto_answer=True)
    await alice.telephony.overflow_to_voicemail(call_ref)
    assert (await bob.telephony.get_calls())["calls"] == []
    call = await alice.telephony.get_call(call_ref)
    assert call["participants"][0]["participantId"] == "3000"


async def test_dtmf_data_and_drop_me(connect, reader) -> None:
    alice, bob, call_ref = await connected(connect)
    events = reader(bob.events(await bob.subscribe(["OnCallModified"])))
    await alice.telephony.attach_data(call_ref, "order-42", "2001")
    modified = await events.next("OnCallModified")
    assert "order-42" in str(modified["callData"])
    await alice.telephony.send_dtmf(call_ref, "2001", "1234#")
    await alice.telephony.drop_me(call_ref)
    assert (await bob.telephony.get_calls())["calls"] == []


async def test_mini_messages(connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.telephony.send_mini_message("2002", "Call me back")
    message = await bob.telephony.get_mini_message()
    assert message["message"] == "Call me back"


async def test_snapshot_event(connect, reader) -> None:
    admin = await connect("admin")
    events = reader(admin.events(await admin.subscribe(["telephony"], ids=["alice"])))
    await admin.telephony.request_snapshot(login_name="alice")
    snapshot = await events.next("OnTelephonyState")
    assert snapshot["loginName"] == "alice" and snapshot["state"]["calls"] == []


async def test_administrator_calls_for_a_user(connect) -> None:
    admin, bob = await connect("admin"), await connect("bob")
    call_ref = await admin.telephony.make_call("2002", "2001", True, login_name="alice")
    assert await leg_state(bob, call_ref) == "RINGING_INCOMING"
    await admin.telephony.release(call_ref, login_name="alice")


async def test_unknown_call(connect) -> None:
    alice = await connect("alice")
    with pytest.raises(NotFoundError) as caught:
        await alice.telephony.answer("0123456789abcdef", "2001")
    assert caught.value.telephony["errorType"] == "CALL_REFERENCE_NOT_FOUND"
