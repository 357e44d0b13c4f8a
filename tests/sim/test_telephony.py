"""Call control over REST: each telephony operation, its wrong-state and unknown-call answers."""

from __future__ import annotations

import httpx
import pytest

from o2g_flows.sim import Simulator

from .conftest import assert_error

UNKNOWN = "0123456789abcdef"


async def dial(client: httpx.AsyncClient, callee: str, **extra) -> str:
    answer = await client.post(
        "/telephony/calls", json={"callee": callee, "autoAnswer": True, **extra}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def answer(client: httpx.AsyncClient, call_ref: str, device: str) -> None:
    response = await client.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": device})
    assert response.status_code == 204, response.text


async def leg_state(client: httpx.AsyncClient, call_ref: str) -> str:
    response = await client.get(f"/telephony/calls/{call_ref}")
    assert response.status_code == 200, response.text
    return response.json()["legs"][0]["state"]


async def connected(session_of, caller: str = "alice", callee: str = "bob"):
    """Two users in an answered call: (caller client, callee client, callRef)."""
    a, b = await session_of(caller), await session_of(callee)
    call_ref = await dial(a, {"alice": "2001", "bob": "2002", "carol": "2003"}[callee])
    await answer(b, call_ref, {"alice": "2001", "bob": "2002", "carol": "2003"}[callee])
    return a, b, call_ref


async def calls_in(sim: Simulator) -> list[dict]:
    async with httpx.AsyncClient(base_url=sim.url) as control:
        return (await control.get("/sim/state")).json()["calls"]["calls"]


# -- making calls -------------------------------------------------------------------------------


async def test_make_call_rings_the_callee(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    assert len(call_ref) == 16 and int(call_ref, 16) >= 0
    mine = (await alice.get(f"/telephony/calls/{call_ref}")).json()
    assert mine["legs"] == [
        {
            "deviceId": "2001",
            "state": "RINGING_OUTGOING",
            "ringingRemote": True,
            "capabilities": {"drop": True},
        }
    ]
    assert mine["participants"][0]["participantId"] == "2002"
    theirs = (await bob.get(f"/telephony/calls/{call_ref}")).json()
    assert theirs["legs"][0]["state"] == "RINGING_INCOMING"
    assert theirs["legs"][0]["capabilities"] == {"answer": True}
    assert theirs["callData"]["initialCalled"] == {"id": {"phoneNumber": "2002"}}


async def test_make_call_without_auto_answer_rings_the_callers_set_first(
    session_of, subscribe
) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    response = await alice.post("/telephony/calls", json={"deviceId": "2001", "callee": "2002"})
    assert response.status_code == 201
    modified = await reader.wait_for("OnCallModified")
    created = reader.events[0]
    assert created["eventName"] == "OnCallCreated"
    assert created["legs"][0]["state"] == "DIALING" and created["participants"] == []
    assert modified["modifiedLegs"][0]["state"] == "RINGING_OUTGOING"
    assert [p["participantId"] for p in modified["addedParticipants"]] == ["2002"]


async def test_make_call_refuses_bad_requests_and_creates_nothing(sim, session_of) -> None:
    alice = await session_of("alice")
    cases = [
        ({"callee": "not a number"}, 400, "BAD_PARAMETER", "BAD_PARAMETER_VALUE"),
        ({"callee": "2001"}, 403, "NOT_ALLOWED", "UNAUTHORIZED"),
        ({"callee": "2002", "deviceId": "2003"}, 403, "NOT_ALLOWED", None),
        ({"callee": "2002", "deviceId": "9999"}, 400, "BAD_PARAMETER", "BAD_PARAMETER_VALUE"),
        ({"callee": "2002", "associatedData": "x" * 33}, 400, "BAD_PARAMETER", None),
        ({"callee": "2002", "pin": "1234"}, 400, "BAD_PARAMETER", None),
        ({"callee": 2002}, 400, "BAD_PARAMETER", None),
    ]
    for body, status, error_type, telephony in cases:
        assert_error(
            await alice.post("/telephony/calls", json=body), status, error_type, telephony=telephony
        )
    assert await calls_in(sim) == []


async def test_make_call_with_associated_data(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002", associatedData="order-42")
    call = (await bob.get(f"/telephony/calls/{call_ref}")).json()
    assert call["callData"]["associateData"] == "order-42"


async def test_an_administrator_makes_a_call_for_a_user(session_of) -> None:
    admin, bob = await session_of("admin"), await session_of("bob")
    response = await admin.post(
        "/telephony/calls?loginName=alice", json={"callee": "2002", "autoAnswer": True}
    )
    assert response.status_code == 201
    assert await leg_state(bob, response.json()) == "RINGING_INCOMING"
    missing = await admin.post("/telephony/calls", json={"callee": "2002"})
    assert_error(missing, 400, "BAD_PARAMETER")


async def test_list_calls(session_of) -> None:
    alice, _, call_ref = await connected(session_of)
    calls = (await alice.get("/telephony/calls")).json()["calls"]
    assert [c["callRef"] for c in calls] == [call_ref]


# -- basic telephony ----------------------------------------------------------------------------


async def test_basic_call_answer_and_dropme(session_of) -> None:
    basic, alice = await session_of("basic"), await session_of("alice")
    made = await basic.post("/telephony/basicCall", json={"deviceId": "2099", "callee": "2001"})
    assert made.status_code == 201
    call_ref = made.json()
    answered = await alice.post("/telephony/basicCall/answer", json={"deviceId": "2001"})
    assert answered.status_code == 204
    assert await leg_state(alice, call_ref) == "ACTIVE"
    assert (await basic.post("/telephony/basicCall/dropme")).status_code == 204
    assert_error(await alice.get(f"/telephony/calls/{call_ref}"), 404, "NOT_FOUND")
    assert_error(
        await alice.post("/telephony/basicCall/answer", json={"deviceId": "2001"}),
        400,
        "NOT_EXPECTED",
        telephony="INCOMPATIBLE_WITH_STATE",
    )
    assert_error(await basic.post("/telephony/basicCall/dropme"), 400, "NOT_EXPECTED")


async def test_basic_call_from_another_users_device_is_refused(session_of) -> None:
    basic = await session_of("basic")
    made = await basic.post("/telephony/basicCall", json={"deviceId": "2001", "callee": "2002"})
    assert_error(made, 403, "NOT_ALLOWED")


# -- answer, release, dropme --------------------------------------------------------------------


async def test_answer(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    await answer(bob, call_ref, "2002")
    assert await leg_state(bob, call_ref) == "ACTIVE"
    assert await leg_state(alice, call_ref) == "ACTIVE"
    again = await bob.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": "2002"})
    assert_error(again, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    not_mine = await bob.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": "2001"})
    assert_error(not_mine, 403, "NOT_ALLOWED")


async def test_release_ends_the_call_for_everyone(session_of) -> None:
    alice, bob, call_ref = await connected(session_of)
    assert (await bob.delete(f"/telephony/calls/{call_ref}")).status_code == 204
    for client in (alice, bob):
        assert_error(await client.get(f"/telephony/calls/{call_ref}"), 404, "NOT_FOUND")
    assert_error(await bob.delete(f"/telephony/calls/{call_ref}"), 404, "NOT_FOUND")


async def test_dropme_ends_a_two_party_call(session_of) -> None:
    alice, bob, call_ref = await connected(session_of)
    assert (await alice.post(f"/telephony/calls/{call_ref}/dropme")).status_code == 204
    assert (await bob.get("/telephony/calls")).json()["calls"] == []


async def test_a_call_another_user_is_in_is_unknown_to_me(session_of) -> None:
    _, _, call_ref = await connected(session_of)
    carol = await session_of("carol")
    body = assert_error(await carol.get(f"/telephony/calls/{call_ref}"), 404, "NOT_FOUND")
    assert body["telephony"]["errorType"] == "CALL_REFERENCE_NOT_FOUND"


# -- hold, retrieve, alternate, reconnect -------------------------------------------------------


async def test_hold_and_retrieve(session_of) -> None:
    alice, _, call_ref = await connected(session_of)
    device = {"deviceId": "2001"}
    assert (await alice.post(f"/telephony/calls/{call_ref}/hold", json=device)).status_code == 204
    assert await leg_state(alice, call_ref) == "HELD"
    again = await alice.post(f"/telephony/calls/{call_ref}/hold", json=device)
    assert_error(again, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    retrieved = await alice.post(f"/telephony/calls/{call_ref}/retrieve", json=device)
    assert retrieved.status_code == 204
    assert await leg_state(alice, call_ref) == "ACTIVE"
    again = await alice.post(f"/telephony/calls/{call_ref}/retrieve", json=device)
    assert_error(again, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")


async def test_a_second_call_puts_the_active_one_on_hold(session_of) -> None:
    alice, _, first = await connected(session_of)
    await dial(alice, "2003")
    assert await leg_state(alice, first) == "HELD"


async def test_alternate_swaps_the_active_and_held_calls(session_of) -> None:
    alice, _, first = await connected(session_of)
    carol = await session_of("carol")
    second = await dial(alice, "2003")
    await answer(carol, second, "2003")
    swapped = await alice.post(f"/telephony/calls/{first}/alternate", json={"deviceId": "2001"})
    assert swapped.status_code == 204
    assert await leg_state(alice, first) == "ACTIVE"
    assert await leg_state(alice, second) == "HELD"
    wrong = await alice.post(f"/telephony/calls/{first}/alternate", json={"deviceId": "2001"})
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")


async def test_reconnect_cancels_the_enquiry_call(session_of) -> None:
    alice, bob, first = await connected(session_of)
    enquiry = await dial(alice, "2003")  # rings carol; the first call goes on hold
    body = {"deviceId": "2001", "enquiryCallRef": enquiry}
    assert (await alice.post(f"/telephony/calls/{first}/reconnect", json=body)).status_code == 204
    assert await leg_state(alice, first) == "ACTIVE"
    assert [c["callRef"] for c in (await alice.get("/telephony/calls")).json()["calls"]] == [first]
    again = await alice.post(f"/telephony/calls/{first}/reconnect", json=body)
    assert_error(again, 404, "NOT_FOUND", telephony="CALL_REFERENCE_NOT_FOUND")
    second = await dial(alice, "2004")
    not_held = {"deviceId": "2001", "enquiryCallRef": first}
    wrong = await alice.post(f"/telephony/calls/{second}/reconnect", json=not_held)
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    assert await leg_state(bob, first) == "ACTIVE"


# -- transfer, conference, participants ---------------------------------------------------------


async def test_transfer_joins_the_two_other_parties(session_of) -> None:
    alice, bob, first = await connected(session_of)
    carol = await session_of("carol")
    second = await dial(alice, "2003")
    await answer(carol, second, "2003")
    wrong = await alice.post(f"/telephony/calls/{first}/transfer", json={"heldCallRef": second})
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    done = await alice.post(f"/telephony/calls/{second}/transfer", json={"heldCallRef": first})
    assert done.status_code == 204
    assert (await alice.get("/telephony/calls")).json()["calls"] == []
    call = (await carol.get(f"/telephony/calls/{first}")).json()
    assert [p["participantId"] for p in call["participants"]] == ["2002"]
    assert await leg_state(bob, first) == "ACTIVE"


async def test_blind_transfer_rings_the_new_party(session_of) -> None:
    alice, bob, call_ref = await connected(session_of)
    carol = await session_of("carol")
    ringing = await dial(carol, "2004")
    wrong = await carol.post(
        f"/telephony/calls/{ringing}/blindtransfer", json={"transferTo": "2005"}
    )
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    moved = await alice.post(
        f"/telephony/calls/{call_ref}/blindtransfer", json={"transferTo": "2005"}
    )
    assert moved.status_code == 204
    assert (await alice.get("/telephony/calls")).json()["calls"] == []
    erin = await session_of("erin")
    assert await leg_state(erin, call_ref) == "RINGING_INCOMING"
    call = (await bob.get(f"/telephony/calls/{call_ref}")).json()
    assert [p["participantId"] for p in call["participants"]] == ["2005"]


async def test_merge_makes_a_conference(session_of) -> None:
    alice, bob, first = await connected(session_of)
    carol = await session_of("carol")
    second = await dial(alice, "2003")
    wrong = await alice.post(f"/telephony/calls/{second}/merge", json={"heldCallRef": first})
    assert_error(
        wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE"
    )  # carol still rings
    await answer(carol, second, "2003")
    merged = await alice.post(f"/telephony/calls/{second}/merge", json={"heldCallRef": first})
    assert merged.status_code == 204
    call = (await alice.get(f"/telephony/calls/{first}")).json()
    assert call["legs"][0]["state"] == "ACTIVE"
    assert sorted(p["participantId"] for p in call["participants"]) == ["2002", "2003"]
    assert all(p["state"] == "ACTIVE" for p in call["participants"])
    assert_error(await alice.get(f"/telephony/calls/{second}"), 404, "NOT_FOUND")
    assert [c["callRef"] for c in (await bob.get("/telephony/calls")).json()["calls"]] == [first]


async def test_participants_are_listed_and_dropped(session_of) -> None:
    alice, bob, first = await connected(session_of)
    carol = await session_of("carol")
    second = await dial(alice, "2003")
    await answer(carol, second, "2003")
    await alice.post(f"/telephony/calls/{second}/merge", json={"heldCallRef": first})
    listed = (await alice.get(f"/telephony/calls/{first}/participants")).json()["participants"]
    assert sorted(p["participantId"] for p in listed) == ["2002", "2003"]
    one = await alice.get(f"/telephony/calls/{first}/participants/2003")
    assert one.json()["identity"]["id"] == {"loginName": "carol", "phoneNumber": "2003"}
    assert_error(await alice.get(f"/telephony/calls/{first}/participants/2999"), 404, "NOT_FOUND")
    dropped = await alice.delete(f"/telephony/calls/{first}/participants/2003")
    assert dropped.status_code == 204
    assert (await carol.get("/telephony/calls")).json()["calls"] == []
    assert await leg_state(bob, first) == "ACTIVE"  # the conference carried on without carol
    unknown = await alice.delete(f"/telephony/calls/{first}/participants/2003")
    assert_error(unknown, 400, "BAD_PARAMETER", telephony="BAD_PARAMETER_VALUE")
    last = await alice.delete(f"/telephony/calls/{first}/participants/2002")
    assert last.status_code == 204
    assert (await alice.get("/telephony/calls")).json()["calls"] == []


async def test_device_legs(session_of) -> None:
    alice, _, call_ref = await connected(session_of)
    legs = (await alice.get(f"/telephony/calls/{call_ref}/deviceLegs")).json()["legs"]
    assert [leg["deviceId"] for leg in legs] == ["2001"]
    leg = await alice.get(f"/telephony/calls/{call_ref}/deviceLegs/2001")
    assert leg.json()["state"] == "ACTIVE"
    assert_error(await alice.get(f"/telephony/calls/{call_ref}/deviceLegs/2002"), 404, "NOT_FOUND")


# -- re-routing ---------------------------------------------------------------------------------


async def test_redirect_a_ringing_call(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    dva = await bob.post(f"/telephony/calls/{call_ref}/redirect", json={"redirectTo": "DVA"})
    assert_error(dva, 400, "NOT_EXPECTED", telephony="SERVICE_UNAVAILABLE")
    moved = await bob.post(f"/telephony/calls/{call_ref}/redirect", json={"redirectTo": "2003"})
    assert moved.status_code == 204
    assert (await bob.get("/telephony/calls")).json()["calls"] == []
    carol = await session_of("carol")
    assert await leg_state(carol, call_ref) == "RINGING_INCOMING"
    await answer(carol, call_ref, "2003")
    wrong = await carol.post(f"/telephony/calls/{call_ref}/redirect", json={"redirectTo": "2004"})
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")


@pytest.mark.parametrize("voicemail", ["VOICEMAIL", "3000"])  # the keyword or the number
async def test_redirect_to_voicemail_leaves_a_message(
    sim, session_of, subscribe, voicemail: str
) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(alice, names=["telephony"])
    call_ref = await dial(alice, "2002")
    moved = await bob.post(f"/telephony/calls/{call_ref}/redirect", json={"redirectTo": voicemail})
    assert moved.status_code == 204
    redirected = await reader.wait_for("OnCallModified", cause="REDIRECTED")
    assert redirected["removedParticipantIds"] == ["2002"]
    assert [p["participantId"] for p in redirected["addedParticipants"]] == ["3000"]
    answered = await reader.wait_for("OnCallModified", 2)  # the voicemail answers
    assert answered["modifiedLegs"][0]["state"] == "ACTIVE"
    await reader.wait_for("OnCallRemoved")  # the voicemail hangs up after the message
    voicemails = sim.pbx.messaging.inbox("bob").voicemails
    assert [vm["from"]["id"]["loginName"] for vm in voicemails] == ["alice"]


async def test_overflow_to_voicemail(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    done = await alice.post(f"/telephony/calls/{call_ref}/overflowToVoiceMail")
    assert done.status_code == 204
    assert (await bob.get("/telephony/calls")).json()["calls"] == []
    call = (await alice.get(f"/telephony/calls/{call_ref}")).json()
    assert call["participants"][0]["participantId"] == "3000"
    wrong = await alice.post(f"/telephony/calls/{call_ref}/overflowToVoiceMail")
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")


async def test_park_and_unpark(session_of) -> None:
    alice, bob, call_ref = await connected(session_of)
    carol = await session_of("carol")
    parked = await alice.post(f"/telephony/calls/{call_ref}/park", json={"parkTo": "2003"})
    assert parked.status_code == 204
    assert (await alice.get("/telephony/calls")).json()["calls"] == []
    assert await leg_state(bob, call_ref) == "ACTIVE"
    own = await bob.post("/telephony/devices/2002/unpark", json={"unParkFrom": "2003"})
    assert_error(own, 403, "NOT_ALLOWED", telephony="UNAUTHORIZED")
    taken = await carol.post("/telephony/devices/2003/unpark", json={})
    assert taken.status_code == 204
    call = (await carol.get(f"/telephony/calls/{call_ref}")).json()
    assert call["legs"][0]["state"] == "ACTIVE"
    assert [p["participantId"] for p in call["participants"]] == ["2002"]
    nothing = await carol.post("/telephony/devices/2003/unpark", json={})
    assert_error(nothing, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    ringing = await dial(alice, "2004")
    wrong = await alice.post(f"/telephony/calls/{ringing}/park", json={})
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")


async def test_pickup_a_call_ringing_on_a_colleague(session_of) -> None:
    alice, bob, carol = (
        await session_of("alice"),
        await session_of("bob"),
        await session_of("carol"),
    )
    call_ref = await dial(alice, "2002")
    body = {"otherPhoneNumber": "2002", "autoAnswer": True}
    assert (await carol.post("/telephony/devices/2003/pickup", json=body)).status_code == 204
    assert (await bob.get("/telephony/calls")).json()["calls"] == []
    assert await leg_state(carol, call_ref) == "ACTIVE"
    assert await leg_state(alice, call_ref) == "ACTIVE"
    again = await carol.post("/telephony/devices/2003/pickup", json=body)
    assert_error(again, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    not_mine = await carol.post("/telephony/devices/2004/pickup", json=body)
    assert_error(not_mine, 403, "NOT_ALLOWED")


async def test_callback_request_during_a_ringing_call(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    assert (await alice.post(f"/telephony/calls/{call_ref}/callback")).status_code == 204
    assert (await bob.get("/telephony/calls")).json()["calls"] == []
    callbacks = (await bob.get("/telephony/incomingCallbacks")).json()["callbacks"]
    assert [c["partyInfo"]["id"]["loginName"] for c in callbacks] == ["alice"]
    _, _, active = await connected(session_of, "carol", "alice")
    wrong = await alice.post(f"/telephony/calls/{active}/callback")
    assert_error(wrong, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")


# -- call data ----------------------------------------------------------------------------------


async def test_send_dtmf(sim, session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, "2002")
    body = {"deviceId": "2001", "number": "12#"}
    ringing = await alice.post(f"/telephony/calls/{call_ref}/sendDtmf", json=body)
    assert_error(ringing, 400, "NOT_EXPECTED", telephony="INCOMPATIBLE_WITH_STATE")
    await answer(bob, call_ref, "2002")
    assert (await alice.post(f"/telephony/calls/{call_ref}/sendDtmf", json=body)).status_code == 204
    bad = await alice.post(
        f"/telephony/calls/{call_ref}/sendDtmf", json={"deviceId": "2001", "number": "1x"}
    )
    assert_error(bad, 400, "BAD_PARAMETER", telephony="BAD_PARAMETER_VALUE")
    assert (await calls_in(sim))[0]["dtmf"] == [{"from": "2001", "digits": "12#"}]


async def test_attach_data_is_seen_by_every_party(session_of, subscribe) -> None:
    alice, bob, call_ref = await connected(session_of)
    reader = await subscribe(bob, names=["OnCallModified"])
    body = {"deviceId": "2001", "associatedData": "ticket 7"}
    assert (
        await alice.post(f"/telephony/calls/{call_ref}/attachdata", json=body)
    ).status_code == 204
    event = await reader.wait_for("OnCallModified")
    assert event["callData"]["associateData"] == "ticket 7"
    long = await alice.post(
        f"/telephony/calls/{call_ref}/attachdata", json={"associatedData": "x" * 40}
    )
    assert_error(long, 400, "BAD_PARAMETER", telephony="BAD_PARAMETER_VALUE")


async def test_send_account_info(session_of) -> None:
    alice, _, call_ref = await connected(session_of)
    sent = await alice.post(
        f"/telephony/calls/{call_ref}/sendaccountinfo", json={"accountInfo": "4711"}
    )
    assert sent.status_code == 204
    call = (await alice.get(f"/telephony/calls/{call_ref}")).json()
    assert call["callData"]["accountInfo"] == "4711"
    letters = await alice.post(
        f"/telephony/calls/{call_ref}/sendaccountinfo", json={"accountInfo": "abc"}
    )
    assert_error(letters, 400, "BAD_PARAMETER", telephony="BAD_PARAMETER_VALUE")


async def test_recording_states(session_of) -> None:
    alice, _, call_ref = await connected(session_of)
    url = f"/telephony/calls/{call_ref}/recording"

    async def record_state() -> str | None:
        return (
            (await alice.get(f"/telephony/calls/{call_ref}")).json()["callData"].get("recordState")
        )

    assert_error(await alice.post(url, params={"action": "stop"}), 400, "NOT_EXPECTED")
    for action, state in [
        ("start", "RECORDING"),
        ("pause", "PAUSED"),
        ("resume", "RECORDING"),
        ("stop", None),
    ]:
        assert (await alice.post(url, params={"action": action})).status_code == 204
        assert await record_state() == state
    assert_error(await alice.post(url, params={"action": "rewind"}), 400, "BAD_PARAMETER")
    assert_error(await alice.post(url), 400, "BAD_PARAMETER")


# -- unknown calls ------------------------------------------------------------------------------

CALL_OPERATIONS = [
    ("GET", "", None),
    ("DELETE", "", None),
    ("POST", "/answer", {"deviceId": "2001"}),
    ("POST", "/dropme", None),
    ("POST", "/hold", {"deviceId": "2001"}),
    ("POST", "/retrieve", {"deviceId": "2001"}),
    ("POST", "/alternate", {"deviceId": "2001"}),
    ("POST", "/reconnect", {"deviceId": "2001", "enquiryCallRef": UNKNOWN}),
    ("POST", "/transfer", {"heldCallRef": UNKNOWN}),
    ("POST", "/blindtransfer", {"transferTo": "2003"}),
    ("POST", "/merge", {"heldCallRef": UNKNOWN}),
    ("POST", "/redirect", {"redirectTo": "2003"}),
    ("POST", "/overflowToVoiceMail", None),
    ("POST", "/park", {}),
    ("POST", "/callback", None),
    ("POST", "/sendDtmf", {"deviceId": "2001", "number": "1"}),
    ("POST", "/attachdata", {"associatedData": "x"}),
    ("POST", "/sendaccountinfo", {"accountInfo": "1"}),
    ("POST", "/recording?action=start", None),
    ("GET", "/participants", None),
    ("GET", "/participants/2002", None),
    ("DELETE", "/participants/2002", None),
    ("GET", "/deviceLegs", None),
    ("GET", "/deviceLegs/2001", None),
    ("POST", "/deviceLegs/2001", {"otherDeviceId": "2001"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), CALL_OPERATIONS)
async def test_unknown_call_reference(session_of, method: str, suffix: str, body) -> None:
    alice = await session_of("alice")
    response = await alice.request(method, f"/telephony/calls/{UNKNOWN}{suffix}", json=body)
    error = assert_error(response, 404, "NOT_FOUND", telephony="CALL_REFERENCE_NOT_FOUND")
    assert error["telephony"]["errorCause"] == "INVALID_CALL_ID"
