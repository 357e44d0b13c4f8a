"""Event summary: the counters of missed calls, voice messages, callbacks and texts."""

from __future__ import annotations

from o2g_flows.sim import Simulator

from .conftest import assert_error


async def test_counters_follow_the_inbox(sim: Simulator, session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["eventSummary"])
    assert (await alice.get("/eventSummary")).json() == {
        "missedCallsNb": 0,
        "voiceMessagesNb": 0,
        "callBackRequestsNb": 0,
        "faxNb": 0,
        "newTextNb": 0,
        "oldTextNb": 0,
        "eventWaiting": False,
    }

    messaging = sim.pbx.messaging
    messaging.deposit_voicemail("alice", sim.pbx.party("+33140000001"), 4)
    messaging.add_callback("alice", sim.pbx.party("2002"))
    messaging.send_mini_message("bob", "alice", "call me")

    summary = (await alice.get("/eventSummary")).json()
    assert summary["voiceMessagesNb"] == 1
    assert summary["callBackRequestsNb"] == 1
    assert summary["newTextNb"] == 1
    assert summary["eventWaiting"] is True
    event = await reader.wait_for("OnEventSummaryUpdated", count=3)
    assert event == {
        "eventName": "OnEventSummaryUpdated",
        "loginName": "alice",
        "eventSummary": summary,
    }


async def test_administrator_reads_a_users_counters(sim: Simulator, session_of) -> None:
    admin = await session_of("admin")
    sim.pbx.messaging.deposit_voicemail("bob", sim.pbx.party("2001"), 3)
    answer = await admin.get("/eventSummary", params={"loginName": "bob"})
    assert answer.json()["voiceMessagesNb"] == 1
    assert_error(await admin.get("/eventSummary"), 400, "BAD_PARAMETER", "loginName")


async def test_needs_the_advanced_telephony_licence(session_of) -> None:
    basic = await session_of("basic")
    assert_error(await basic.get("/eventSummary"), 403, "NOT_ALLOWED")
