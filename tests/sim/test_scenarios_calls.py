"""Call scenarios end to end: the full event sequence and content each user receives.

The first scenario is compared with the real O2G capture (o2g-wire-facts.md §1.5): every
field the real server sent is there with the same value; the simulator may add fields the
spec allows (``cause`` on OnCallRemoved, richer capabilities).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from o2g_flows.sim import PbxConfig, Simulator, load_pbx_file
from o2g_flows.sim.pbx.config import Device

ALICE, BOB, CAROL, DAVE = "2001", "2002", "2003", "2004"
CARL = "+33140000099"  # an external customer


def assert_contains(actual: Any, expected: Any, where: str = "event") -> None:
    """Every key of ``expected`` is in ``actual`` with the same value (lists: same length)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            assert_contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for index, (item, wanted) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(item, wanted, f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def of(reader, login: str, names: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The events of ``login`` (only those named ``names`` if given), in order."""
    return [
        e
        for e in reader.events
        if e.get("loginName") == login and (not names or e["eventName"] in names)
    ]


def summary(events: list[dict[str, Any]]) -> list[tuple]:
    """(name, cause or call state or user state) of each event, for comparing sequences."""
    return [
        (e["eventName"], e.get("cause") or e.get("callData", {}).get("state") or e.get("state"))
        for e in events
    ]


async def dial(client: httpx.AsyncClient, callee: str) -> str:
    made = await client.post("/telephony/calls", json={"callee": callee, "autoAnswer": True})
    assert made.status_code == 201, made.text
    return made.json()


async def answer(client: httpx.AsyncClient, call_ref: str, device: str) -> None:
    answered = await client.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": device})
    assert answered.status_code == 204, answered.text


async def watch(session_of, subscribe, *logins: str, packages=("telephony",)):
    """An administrator's ordered stream of the ``packages`` events of ``logins``."""
    admin = await session_of("admin")
    reader = await subscribe(admin, names=[packages[0]], ids=list(logins))
    if len(packages) > 1:
        selectors = [{"names": [package], "ids": list(logins)} for package in packages]
        updated = await admin.put("/subscriptions", json={"selectors": selectors})
        assert updated.status_code == 204, updated.text
    return reader


# -- the real capture ---------------------------------------------------------------------------


def capture(call_ref: str) -> list[dict[str, Any]]:
    """The real stream of §1.5 for callee B=bob (2002) called by A=alice (2001)."""
    initial = {"id": {"phoneNumber": BOB}}
    no_change = {
        "addedLegs": [],
        "removedLegs": [],
        "modifiedParticipants": [],
        "addedParticipants": [],
        "deviceCapabilities": [],
    }
    return [
        {
            "eventName": "OnCallCreated",
            "loginName": "bob",
            "callRef": call_ref,
            "callData": {
                "initialCalled": initial,
                "state": "RINGING_INCOMING",
                "tags": [],
                "capabilities": {"redirect": True, "pickedUp": True, "terminate": True},
            },
            "legs": [
                {"deviceId": BOB, "state": "RINGING_INCOMING", "capabilities": {"answer": True}}
            ],
            "participants": [
                {
                    "participantId": ALICE,
                    "identity": {
                        "id": {"loginName": "alice", "phoneNumber": ALICE},
                        "firstName": "Alice",
                        "lastName": "Martin",
                        "type": {"main": "USER"},
                    },
                }
            ],
            "deviceCapabilities": [
                {"deviceId": BOB, "makeCall": True, "makeBusinessCall": True, "unParkCall": True}
            ],
        },
        {
            "eventName": "OnCallModified",
            "loginName": "bob",
            "callRef": call_ref,
            "callData": {
                "initialCalled": initial,
                "state": "ACTIVE",
                "tags": [],
                "capabilities": {"terminate": True},
            },
            "modifiedLegs": [
                {"deviceId": BOB, "state": "ACTIVE", "capabilities": {"drop": True, "hold": True}}
            ],
            "removedParticipantIds": [],
            **no_change,
        },
        {"eventName": "OnUserStateModified", "loginName": "bob", "state": "BUSY"},
        {
            "eventName": "OnCallModified",
            "loginName": "bob",
            "callRef": call_ref,
            "callData": {
                "initialCalled": initial,
                "state": "RELEASING",
                "tags": [],
                "capabilities": {"terminate": True},
            },
            "modifiedLegs": [
                {"deviceId": BOB, "state": "RELEASING", "capabilities": {"drop": True}}
            ],
            "removedParticipantIds": [ALICE],
            **no_change,
        },
        {"eventName": "OnCallRemoved", "loginName": "bob", "callRef": call_ref,
         "deviceCapabilities": []},
        {"eventName": "OnUserStateModified", "loginName": "bob", "state": "FREE"},
    ]  # fmt: skip


async def test_incoming_call_ringing_answered_hung_up_as_captured(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(bob, names=["telephony"])
    call_ref = await dial(alice, BOB)
    await reader.wait_for("OnCallCreated")
    await answer(bob, call_ref, BOB)
    await reader.wait_for("OnUserStateModified", state="BUSY")
    assert (await alice.post(f"/telephony/calls/{call_ref}/dropme")).status_code == 204
    await reader.wait_for("OnUserStateModified", state="FREE")
    expected = capture(call_ref)
    assert [e["eventName"] for e in reader.events] == [e["eventName"] for e in expected]
    for index, (event, wanted) in enumerate(zip(reader.events, expected, strict=True)):
        assert_contains(event, wanted, f"event {index}")
    assert reader.events[4]["cause"] == "CLEARED"


async def test_the_caller_side_of_the_same_call(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    reader = await subscribe(alice, names=["telephony"])
    call_ref = await dial(alice, BOB)
    await answer(bob, call_ref, BOB)
    await bob.delete(f"/telephony/calls/{call_ref}")
    await reader.wait_for("OnUserStateModified", state="FREE")
    assert summary(reader.events) == [
        ("OnCallCreated", "RINGING_OUTGOING"),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", "ACTIVE"),
        ("OnCallModified", "RELEASING"),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    created, answered, releasing = reader.events[0], reader.events[2], reader.events[3]
    assert created["legs"][0]["ringingRemote"] is True
    assert answered["modifiedLegs"][0]["state"] == "ACTIVE"
    assert releasing["modifiedLegs"][0]["state"] == "RELEASING"
    assert releasing["removedParticipantIds"] == [BOB]


# -- no answer, busy, forward, DND --------------------------------------------------------------


async def test_no_answer_overflows_to_voicemail_and_a_message_is_left(
    session_of, subscribe
) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    route = {
        "overflowRoutes": [{"overflowType": "NO_ANSWER", "destinations": [{"type": "VOICEMAIL"}]}]
    }
    assert (await bob.post("/routing/overflowroute", json=route)).status_code == 204
    reader = await watch(
        session_of, subscribe, "alice", "bob", packages=("telephony", "eventSummary")
    )
    call_ref = await dial(alice, BOB)
    await reader.wait_for("OnEventSummaryUpdated", loginName="bob", count=2)
    await reader.wait_for("OnUserStateModified", loginName="alice", state="FREE")
    assert summary(of(reader, "bob")) == [
        ("OnCallCreated", "RINGING_INCOMING"),
        ("OnCallRemoved", "FORWARDED"),
        ("OnEventSummaryUpdated", None),
        ("OnEventSummaryUpdated", None),
    ]
    bob_events = of(reader, "bob")
    assert bob_events[1]["newDestination"] == "3000"
    assert bob_events[2]["eventSummary"]["missedCallsNb"] == 1
    assert bob_events[3]["eventSummary"]["voiceMessagesNb"] == 1
    assert bob_events[3]["eventSummary"]["eventWaiting"] is True
    assert summary(of(reader, "alice")) == [
        ("OnCallCreated", "RINGING_OUTGOING"),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", "FORWARDED"),
        ("OnCallModified", "ACTIVE"),  # the voicemail answers
        ("OnCallModified", "RELEASING"),  # the voicemail hangs up after the message
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    diverted = of(reader, "alice")[2]
    assert diverted["callRef"] == call_ref
    assert diverted["removedParticipantIds"] == [BOB]
    assert diverted["addedParticipants"][0]["identity"]["type"]["subType"] == "voicemail"
    assert (await bob.get("/eventSummary")).json()["voiceMessagesNb"] == 1
    records = (await bob.get("/comlog/records")).json()["comHistoryRecords"]
    owner = records[0]["participants"][0]
    assert (owner["role"], owner["answered"], owner["reason"]) == ("CALLEE", False, "FORWARDED")


async def test_busy_user_overflows_to_voicemail(session_of, subscribe) -> None:
    alice, bob, carol = (
        await session_of("alice"),
        await session_of("bob"),
        await session_of("carol"),
    )
    route = {"overflowRoutes": [{"overflowType": "BUSY", "destinations": [{"type": "VOICEMAIL"}]}]}
    assert (await bob.post("/routing/overflowroute", json=route)).status_code == 204
    busy_call = await dial(bob, CAROL)
    await answer(carol, busy_call, CAROL)
    reader = await watch(session_of, subscribe, "alice", "bob")
    call_ref = await dial(alice, BOB)
    await reader.wait_for("OnCallRemoved", loginName="alice")
    assert summary(of(reader, "bob")) == [
        ("OnCallCreated", "IDLE"),
        ("OnCallRemoved", "FORWARDED"),
    ]
    created = of(reader, "alice")[0]
    assert created["cause"] == "FORWARDED"
    assert created["participants"][0]["participantId"] == "3000"
    assert created["callData"]["initialCalled"] == {"id": {"phoneNumber": BOB}}
    assert of(reader, "bob")[0]["callRef"] == call_ref
    assert of(reader, "bob")[1]["newDestination"] == "3000"


async def test_busy_user_without_route_refuses_the_call(session_of, subscribe) -> None:
    alice, bob, carol = (
        await session_of("alice"),
        await session_of("bob"),
        await session_of("carol"),
    )
    busy_call = await dial(bob, CAROL)
    await answer(carol, busy_call, CAROL)
    reader = await watch(
        session_of, subscribe, "alice", "bob", packages=("telephony", "unifiedComLog")
    )
    await dial(alice, BOB)
    await reader.wait_for("OnComRecordCreated", loginName="alice")
    assert summary(of(reader, "alice", ("OnCallCreated", "OnCallModified", "OnCallRemoved"))) == [
        ("OnCallCreated", "DIALING"),
        ("OnCallModified", "RELEASING"),
        ("OnCallRemoved", "BUSY"),
    ]
    assert of(reader, "bob", ("OnCallCreated",)) == []
    record = of(reader, "bob", ("OnComRecordCreated",))[0]["record"]
    assert record["participants"][0]["reason"] == "BUSY"
    assert record["participants"][1]["identity"]["id"]["loginName"] == "alice"


async def test_immediate_forward_to_a_number(session_of, subscribe) -> None:
    alice, carol, dave = (
        await session_of("alice"),
        await session_of("carol"),
        await session_of("dave"),
    )
    route = {"forwardRoute": {"destinations": [{"type": "NUMBER", "number": DAVE}]}}
    assert (await carol.post("/routing/forwardroute", json=route)).status_code == 204
    reader = await watch(session_of, subscribe, "alice", "carol", "dave")
    call_ref = await dial(alice, CAROL)
    await reader.wait_for("OnCallCreated", loginName="dave")
    assert summary(of(reader, "carol")) == [
        ("OnCallCreated", "IDLE"),
        ("OnCallRemoved", "FORWARDED"),
    ]
    assert of(reader, "carol")[1]["newDestination"] == DAVE
    created = of(reader, "alice")[0]
    assert created["cause"] == "FORWARDED"
    assert [p["participantId"] for p in created["participants"]] == [DAVE]
    ringing = of(reader, "dave")[0]
    assert ringing["callData"]["initialCalled"] == {"id": {"phoneNumber": CAROL}}
    assert ringing["callRef"] == call_ref
    await answer(dave, call_ref, DAVE)
    await alice.delete(f"/telephony/calls/{call_ref}")
    records = (await alice.get("/comlog/records")).json()["comHistoryRecords"]
    other = records[0]["participants"][1]
    assert other["identity"]["id"]["loginName"] == "dave"
    assert other["initialCalled"]["id"]["loginName"] == "carol"


async def test_a_caller_hanging_up_in_the_voicemail_leaves_a_short_message(
    sim: Simulator, session_of, subscribe
) -> None:
    sim.pbx.timing.voicemail_message = 30.0  # the caller hangs up long before that
    bob = await session_of("bob")
    route = {"forwardRoute": {"destinations": [{"type": "VOICEMAIL"}]}}
    assert (await bob.post("/routing/forwardroute", json=route)).status_code == 204
    reader = await subscribe(bob, names=["eventSummary"])
    async with httpx.AsyncClient(base_url=sim.url) as world:
        await world.post("/sim/calls", json={"from": CARL, "to": BOB})
        assert (await world.post(f"/sim/externals/{CARL}/hangup")).status_code == 204
    deposited = await reader.wait_for("OnEventSummaryUpdated", 2)
    assert deposited["eventSummary"]["voiceMessagesNb"] == 1
    [message] = sim.pbx.messaging.inbox("bob").voicemails
    assert message["from"]["lastName"] == "Customer" and message["duration"] >= 1


async def test_calling_the_voicemail_service_leaves_no_message(sim, session_of, subscribe):
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    await dial(alice, "3000")
    await reader.wait_for("OnUserStateModified", state="FREE")
    assert summary(reader.events) == [
        ("OnCallCreated", "RINGING_OUTGOING"),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", "ACTIVE"),
        ("OnCallModified", "RELEASING"),
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    assert sim.pbx.messaging.inbox("alice").voicemails == []


async def test_do_not_disturb_refuses_calls(session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    assert (await bob.post("/routing/dnd")).status_code == 204
    reader = await watch(
        session_of, subscribe, "alice", "bob", packages=("telephony", "eventSummary")
    )
    await dial(alice, BOB)
    await reader.wait_for("OnEventSummaryUpdated", loginName="bob")
    await reader.wait_for("OnUserStateModified", loginName="alice", state="FREE")
    assert summary(of(reader, "alice")) == [
        ("OnCallCreated", "DIALING"),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", "RELEASING"),
        ("OnCallRemoved", "DO_NOT_DISTURB"),
        ("OnUserStateModified", "FREE"),
    ]
    assert summary(of(reader, "bob")) == [("OnEventSummaryUpdated", None)]
    assert of(reader, "bob")[0]["eventSummary"]["missedCallsNb"] == 1


# -- transfer, conference -----------------------------------------------------------------------


async def test_consultation_transfer(session_of, subscribe) -> None:
    alice, bob, carol = (
        await session_of("alice"),
        await session_of("bob"),
        await session_of("carol"),
    )
    reader = await watch(session_of, subscribe, "alice", "bob", "carol")
    first = await dial(alice, BOB)
    await answer(bob, first, BOB)
    held = await alice.post(f"/telephony/calls/{first}/hold", json={"deviceId": ALICE})
    assert held.status_code == 204
    second = await dial(alice, CAROL)
    await answer(carol, second, CAROL)
    done = await alice.post(f"/telephony/calls/{second}/transfer", json={"heldCallRef": first})
    assert done.status_code == 204
    await reader.wait_for("OnCallModified", loginName="carol", cause="TRANSFERRED")
    assert summary(of(reader, "alice")) == [
        ("OnCallCreated", "RINGING_OUTGOING"),
        ("OnUserStateModified", "BUSY"),
        ("OnCallModified", "ACTIVE"),  # bob answers
        ("OnCallModified", "HELD"),
        ("OnCallCreated", "RINGING_OUTGOING"),
        ("OnCallModified", "ACTIVE"),  # carol answers
        ("OnCallRemoved", "TRANSFERRED"),
        ("OnCallRemoved", "TRANSFERRED"),
        ("OnUserStateModified", "FREE"),
    ]
    assert of(reader, "alice")[3]["modifiedLegs"][0]["state"] == "HELD"
    assert [e["callRef"] for e in of(reader, "alice")[6:8]] == [first, second]
    moved = of(reader, "bob")[-1]
    assert (moved["callRef"], moved["cause"]) == (first, "TRANSFERRED")
    assert moved["removedParticipantIds"] == [ALICE]
    assert [p["participantId"] for p in moved["addedParticipants"]] == [CAROL]
    joined = of(reader, "carol")[-1]
    assert (joined["callRef"], joined["previousCallRef"]) == (first, second)
    assert [p["participantId"] for p in joined["addedParticipants"]] == [BOB]
    assert (await bob.delete(f"/telephony/calls/{first}")).status_code == 204
    removed = await reader.wait_for("OnCallRemoved", loginName="carol")
    assert (removed["callRef"], removed["cause"]) == (first, "CLEARED")


async def test_conference(session_of, subscribe) -> None:
    alice, bob, carol = (
        await session_of("alice"),
        await session_of("bob"),
        await session_of("carol"),
    )
    first = await dial(alice, BOB)
    await answer(bob, first, BOB)
    second = await dial(alice, CAROL)  # the first call goes on hold
    await answer(carol, second, CAROL)
    reader = await watch(session_of, subscribe, "alice", "bob", "carol")
    merged = await alice.post(f"/telephony/calls/{second}/merge", json={"heldCallRef": first})
    assert merged.status_code == 204
    await reader.wait_for("OnCallModified", loginName="carol")
    master = of(reader, "alice")[0]
    assert (master["callRef"], master["previousCallRef"], master["cause"]) == (
        first,
        second,
        "CONFERENCED",
    )
    assert master["modifiedLegs"][0]["state"] == "ACTIVE"
    assert [(p["participantId"], p["state"]) for p in master["addedParticipants"]] == [
        (CAROL, "ACTIVE")
    ]
    assert [p["participantId"] for p in of(reader, "bob")[0]["addedParticipants"]] == [CAROL]
    assert of(reader, "carol")[0]["previousCallRef"] == second
    assert [p["participantId"] for p in of(reader, "carol")[0]["addedParticipants"]] == [BOB]

    assert (await carol.post(f"/telephony/calls/{first}/dropme")).status_code == 204
    await reader.wait_for("OnCallModified", loginName="bob", cause="PARTICIPANT_LEFT")
    left = of(reader, "alice")[-1]
    assert (left["cause"], left["removedParticipantIds"]) == ("PARTICIPANT_LEFT", [CAROL])
    assert summary(of(reader, "carol"))[-2:] == [
        ("OnCallRemoved", "CLEARED"),
        ("OnUserStateModified", "FREE"),
    ]
    assert (await alice.delete(f"/telephony/calls/{first}")).status_code == 204
    await reader.wait_for("OnCallRemoved", loginName="bob")


# -- hunting group, ACD pilot -------------------------------------------------------------------


async def test_hunting_group_rings_a_free_logged_on_member(sim, session_of, subscribe) -> None:
    reception, alice = await session_of("reception"), await session_of("alice")
    await session_of("bob")
    assert (await reception.delete("/telephony/huntingGroupLogOn")).status_code == 204
    reader = await watch(session_of, subscribe, "reception", "alice", "bob")
    async with httpx.AsyncClient(base_url=sim.url) as world:
        placed = await world.post("/sim/calls", json={"from": CARL, "to": "2100"})
        call_ref = placed.json()["callRef"]
        ringing = await reader.wait_for("OnCallCreated", loginName="alice")
        assert ringing["callData"]["initialCalled"] == {"id": {"phoneNumber": "2100"}}
        # alice does not answer: after the ring time the next member rings
        await reader.wait_for("OnCallRemoved", loginName="alice")
        await reader.wait_for("OnCallCreated", loginName="bob")
        assert (await world.post("/sim/devices/2002/answer")).status_code == 204
        await reader.wait_for("OnUserStateModified", loginName="bob", state="BUSY")
        assert of(reader, "reception") == []
        assert of(reader, "bob")[0]["callRef"] == call_ref
        # every member busy or logged off: the caller gets busy
        await dial(alice, "2005")
        refused = await world.post("/sim/calls", json={"from": CARL, "to": "2100"})
        assert refused.status_code == 201
        calls = (await world.get("/sim/state")).json()["calls"]["calls"]
        assert [c["callRef"] for c in calls if c["initialCalled"] == "2100"] == [call_ref]


def agent_states(reader) -> list[str]:
    return [e["state"].get("subState") for e in of(reader, "agent1", ("OnAgentStateChanged",))]


async def test_pilot_call_waits_for_an_agent_then_is_distributed(sim, subscribe, session_of):
    sim.pbx.timing.ring_timeout = 5.0  # the agent answers well within the ring time
    reader = await watch(session_of, subscribe, "agent1", packages=("telephony", "agent"))
    async with httpx.AsyncClient(base_url=sim.url) as world:
        placed = await world.post("/sim/calls", json={"from": CARL, "to": "5000"})
        call_ref = placed.json()["callRef"]
        queues = (await world.get("/sim/state")).json()["calls"]["queues"]
        assert queues["5000"] == [call_ref]
        assert (await world.post("/sim/agents/agent1/logon", json={})).status_code == 200
        offered = await reader.wait_for("OnCallCreated")
        assert (offered["callRef"], offered["cause"]) == (call_ref, "DISTRIBUTED")
        assert offered["legs"][0]["deviceId"] == "2301"
        acd = offered["callData"]["acdCallData"]
        assert acd["pilotNumber"] == "5000" and acd["callInfo"]["agentGroup"] == "5100"
        assert offered["participants"][0]["identity"]["lastName"] == "Customer"
        assert (await world.post("/sim/devices/2301/answer")).status_code == 204
        assert (await world.post(f"/sim/externals/{CARL}/hangup")).status_code == 204
        removed = await reader.wait_for("OnCallRemoved")
        assert removed["cause"] == "CLEARED"
        await reader.wait_for("OnAgentStateChanged", 3)
        assert agent_states(reader)[:3] == ["READY", "BUSY", "WRAPUP"]
        assert (await world.get("/sim/state")).json()["calls"]["queues"]["5000"] == []


# -- remote extension ---------------------------------------------------------------------------

MOBILE = "2801"  # alice's remote extension in this PBX


def remote_extension_pbx() -> PbxConfig:
    """The default PBX where alice has a remote extension (a MOBILE device)."""
    config = load_pbx_file()
    alice = next(user for user in config.users if user.login == "alice")
    alice.devices.append(Device(id=MOBILE, type="MOBILE"))
    return config


def legs(event: dict[str, Any], key: str = "legs") -> list[tuple[str, str]]:
    return [(leg["deviceId"], leg["state"]) for leg in event[key]]


class TestRemoteExtension:
    """Calls to a user whose presentation route selects its MOBILE ring there too."""

    @pytest.fixture
    async def sim(self):
        timing = {"ring_timeout": 30, "keepalive_interval": 0.2, "channel_minute": 0.5}
        async with Simulator(remote_extension_pbx(), timing=timing) as simulator:
            yield simulator

    @pytest.fixture
    async def alice(self, session_of) -> httpx.AsyncClient:
        """alice, with her remote extension selected in her presentation route."""
        alice = await session_of("alice")
        route = {"presentationRoutes": [{"destinations": [{"type": "MOBILE", "selected": True}]}]}
        assert (await alice.post("/routing", json=route)).status_code == 204
        return alice

    async def test_the_mobile_rings_too_and_answers(self, alice, session_of, subscribe) -> None:
        bob = await session_of("bob")
        reader = await watch(session_of, subscribe, "alice", "bob")
        call_ref = await dial(bob, ALICE)
        ringing = await reader.wait_for("OnCallCreated", loginName="alice")
        assert legs(ringing) == [(ALICE, "RINGING_INCOMING"), (MOBILE, "RINGING_INCOMING")]
        assert [p["participantId"] for p in ringing["participants"]] == [BOB]
        seen_by_bob = (await bob.get(f"/telephony/calls/{call_ref}")).json()
        assert [p["participantId"] for p in seen_by_bob["participants"]] == [ALICE]

        await answer(alice, call_ref, MOBILE)
        answered = await reader.wait_for("OnCallModified", loginName="alice")
        assert legs(answered, "modifiedLegs") == [(MOBILE, "ACTIVE")]
        assert legs(answered, "removedLegs") == [(ALICE, "RINGING_INCOMING")]
        call = (await alice.get(f"/telephony/calls/{call_ref}")).json()
        assert legs(call) == [(MOBILE, "ACTIVE")]

        assert (await bob.delete(f"/telephony/calls/{call_ref}")).status_code == 204
        await reader.wait_for("OnUserStateModified", loginName="alice", state="FREE")
        assert summary(of(reader, "alice")) == [
            ("OnCallCreated", "RINGING_INCOMING"),
            ("OnCallModified", "ACTIVE"),
            ("OnUserStateModified", "BUSY"),
            ("OnCallModified", "RELEASING"),
            ("OnCallRemoved", "CLEARED"),
            ("OnUserStateModified", "FREE"),
        ]
        assert legs(of(reader, "alice")[3], "modifiedLegs") == [(MOBILE, "RELEASING")]
        assert summary(of(reader, "bob")) == [
            ("OnCallCreated", "RINGING_OUTGOING"),
            ("OnUserStateModified", "BUSY"),
            ("OnCallModified", "ACTIVE"),
            ("OnCallRemoved", "CLEARED"),
            ("OnUserStateModified", "FREE"),
        ]

    async def test_answering_on_the_office_set_stops_the_mobile(
        self, sim, alice, session_of, subscribe
    ) -> None:
        reader = await watch(session_of, subscribe, "alice")
        async with httpx.AsyncClient(base_url=sim.url) as world:
            placed = await world.post("/sim/calls", json={"from": CARL, "to": ALICE})
            call_ref = placed.json()["callRef"]
            await reader.wait_for("OnCallCreated")
            assert (await world.post(f"/sim/devices/{ALICE}/answer")).status_code == 204
        answered = await reader.wait_for("OnCallModified")
        assert legs(answered, "modifiedLegs") == [(ALICE, "ACTIVE")]
        assert legs(answered, "removedLegs") == [(MOBILE, "RINGING_INCOMING")]
        late = await alice.post(f"/telephony/calls/{call_ref}/answer", json={"deviceId": MOBILE})
        assert late.status_code == 400

    async def test_the_mobile_declining_leaves_the_office_set_ringing(
        self, sim, alice, session_of, subscribe
    ) -> None:
        reader = await watch(session_of, subscribe, "alice")
        async with httpx.AsyncClient(base_url=sim.url) as world:
            placed = await world.post("/sim/calls", json={"from": CARL, "to": ALICE})
            call_ref = placed.json()["callRef"]
            await reader.wait_for("OnCallCreated")
            assert (await world.post(f"/sim/devices/{MOBILE}/hangup")).status_code == 204
            declined = await reader.wait_for("OnCallModified")
            assert declined["callData"]["state"] == "RINGING_INCOMING"
            assert legs(declined, "removedLegs") == [(MOBILE, "RINGING_INCOMING")]
            call = (await alice.get(f"/telephony/calls/{call_ref}")).json()
            assert legs(call) == [(ALICE, "RINGING_INCOMING")]
            await answer(alice, call_ref, ALICE)
            await reader.wait_for("OnUserStateModified", state="BUSY")

    async def test_without_the_mobile_selected_only_the_office_set_rings(
        self, session_of, subscribe
    ) -> None:
        bob = await session_of("bob")
        reader = await watch(session_of, subscribe, "alice")
        await dial(bob, ALICE)
        ringing = await reader.wait_for("OnCallCreated")
        assert legs(ringing) == [(ALICE, "RINGING_INCOMING")]


# -- licences and bad input ---------------------------------------------------------------------


async def test_basic_licence_allows_one_call_at_a_time(session_of, subscribe) -> None:
    basic, bob = await session_of("basic"), await session_of("bob")
    made = await basic.post("/telephony/basicCall", json={"deviceId": "2099", "callee": ALICE})
    assert made.status_code == 201
    second = await basic.post("/telephony/basicCall", json={"deviceId": "2099", "callee": BOB})
    assert second.status_code == 403
    assert second.json()["telephony"]["errorType"] == "UNAUTHORIZED"
    reader = await subscribe(bob, names=["OnCallRemoved"])
    await dial(bob, "2099")  # basic already has a call: busy for incoming calls too
    removed = await reader.wait_for("OnCallRemoved")
    assert removed["cause"] == "BUSY"
    assert (await basic.post("/telephony/basicCall/dropme")).status_code == 204
    again = await basic.post("/telephony/basicCall", json={"deviceId": "2099", "callee": BOB})
    assert again.status_code == 201


async def test_bad_input_leaves_the_state_untouched(sim: Simulator, session_of, subscribe) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    call_ref = await dial(alice, BOB)
    reader = await subscribe(alice, names=["telephony"])
    async with httpx.AsyncClient(base_url=sim.url) as world:
        before = (await world.get("/sim/state")).json()["calls"]
        bad = [
            ("POST", "/telephony/calls", b"{oops"),
            ("POST", "/telephony/calls", b'{"callee": 2002}'),
            ("POST", "/telephony/calls", b'{"callee": "2002", "autoAnswer": "yes"}'),
            ("POST", f"/telephony/calls/{call_ref}/answer", b'{"deviceId": 2002}'),
            ("POST", f"/telephony/calls/{call_ref}/answer", b"[]"),
            ("POST", f"/telephony/calls/{call_ref}/blindtransfer", b'{"transferTo": true}'),
            ("POST", f"/telephony/calls/{call_ref}/redirect", b"{}"),
        ]
        for method, path, content in bad:
            client = bob if "answer" in path or "redirect" in path else alice
            response = await client.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, (path, content, response.text)
            assert response.json()["type"] == "BAD_PARAMETER"
        assert (await world.get("/sim/state")).json()["calls"] == before
    assert (await alice.post("/telephony/state/snapshot")).status_code == 204
    await reader.wait_for("OnTelephonyState")
    assert reader.names() == ["OnTelephonyState"]  # nothing happened before the snapshot
