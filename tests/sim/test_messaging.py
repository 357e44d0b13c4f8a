"""Voicemail: mailboxes, connection, message list, WAV download and deletion."""

from __future__ import annotations

import io
import wave

import httpx
import pytest

from o2g_flows.sim import Simulator

from .conftest import assert_error

BOX = "/messaging/mailboxes/2001"


@pytest.fixture
def messages(sim: Simulator) -> list[str]:
    """Three messages left for alice, oldest first; the second one is urgent."""
    pbx = sim.pbx
    return [
        pbx.messaging.deposit_voicemail("alice", pbx.party(caller), seconds, high_priority=urgent)[
            "voicemailId"
        ]
        for caller, seconds, urgent in (
            ("+33140000001", 2, False),
            ("2002", 1, True),
            ("2003", 3, False),
        )
    ]


@pytest.fixture
async def alice(session_of) -> httpx.AsyncClient:
    """alice, connected to her mailbox with its own password."""
    client = await session_of("alice")
    answer = await client.post(BOX, json={"password": "0000"})
    assert answer.status_code == 200, answer.text
    return client


async def test_mailboxes(session_of) -> None:
    alice = await session_of("alice")
    boxes = (await alice.get("/messaging/mailboxes")).json()["mailboxes"]
    assert [(box["id"], box["name"]) for box in boxes] == [("2001", "Alice Martin")]
    assert boxes[0]["capabilities"]["listMessages"] is True
    assert boxes[0]["capabilities"]["getMessages"] is True
    basic = await session_of("basic")
    assert_error(await basic.get("/messaging/mailboxes"), 403, "NOT_ALLOWED")


async def test_connect_checks_the_mailbox_password(session_of, messages) -> None:
    alice = await session_of("alice")
    assert_error(await alice.post(BOX, json={"password": "1234"}), 403, "NOT_ALLOWED")
    assert_error(await alice.post(BOX, json={}), 400, "BAD_PARAMETER", "password")
    assert_error(
        await alice.post("/messaging/mailboxes/2002", json={"password": "0000"}), 404, "NOT_FOUND"
    )
    # alice's login password (1001) is not her mailbox password (0000)
    assert_error(await alice.post(BOX + "?withUserPwd"), 403, "NOT_ALLOWED")

    info = await alice.post(BOX, json={"password": "0000"})
    assert info.json() == {"totalVoiceMsg": 3, "newVoiceMsg": 3, "storageUsage": -1}


async def test_connect_with_the_user_password_where_they_match(session_of) -> None:
    reception = await session_of("reception")  # login and mailbox passwords are both 0000
    info = await reception.post("/messaging/mailboxes/2000?withUserPwd")
    assert info.status_code == 200, info.text
    assert info.json()["totalVoiceMsg"] == 0


async def test_messages_need_a_connection_first(session_of, messages) -> None:
    alice = await session_of("alice")
    assert_error(await alice.get(BOX + "/voicemails"), 403, "NOT_ALLOWED", "Connect")
    assert_error(await alice.get(f"{BOX}/voicemails/{messages[0]}"), 403, "NOT_ALLOWED")


async def test_list_newest_first_with_pages_and_new_only(alice, messages) -> None:
    listed = (await alice.get(BOX + "/voicemails")).json()["voicemails"]
    assert [vm["voicemailId"] for vm in listed] == list(reversed(messages))
    urgent = listed[1]
    assert urgent["highPriority"] is True and urgent["duration"] == 1 and urgent["unread"] is True
    assert urgent["from"] == {
        "id": {"loginName": "bob", "phoneNumber": "2002"},
        "firstName": "Bob",
        "lastName": "Bernard",
        "displayName": "",
    }
    page = (await alice.get(BOX + "/voicemails", params={"offset": 1, "limit": 1})).json()
    assert [vm["voicemailId"] for vm in page["voicemails"]] == [messages[1]]
    assert_error(await alice.get(BOX + "/voicemails", params={"offset": -1}), 400, "BAD_PARAMETER")

    await alice.get(f"{BOX}/voicemails/{messages[2]}")  # listened to
    new = (await alice.get(BOX + "/voicemails", params={"newOnly": "true"})).json()
    assert [vm["voicemailId"] for vm in new["voicemails"]] == [messages[1], messages[0]]


async def test_download_is_a_wav_file_and_marks_the_message_read(alice, subscribe, messages):
    reader = await subscribe(alice, names=["eventSummary"])
    answer = await alice.get(f"{BOX}/voicemails/{messages[0]}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    with wave.open(io.BytesIO(answer.content)) as audio:
        assert audio.getnchannels() == 1 and audio.getframerate() == 8000
        assert audio.getnframes() == 2 * 8000  # the message lasts 2 seconds

    event = await reader.wait_for("OnEventSummaryUpdated")
    assert event["eventSummary"]["voiceMessagesNb"] == 2
    listed = (await alice.get(BOX + "/voicemails")).json()["voicemails"]
    assert [vm["unread"] for vm in listed] == [True, True, False]
    assert_error(await alice.get(f"{BOX}/voicemails/999"), 404, "NOT_FOUND")


async def test_download_a_byte_range(alice, messages) -> None:
    whole = (await alice.get(f"{BOX}/voicemails/{messages[1]}")).content
    part = await alice.get(f"{BOX}/voicemails/{messages[1]}", headers={"Range": "bytes=0-1"})
    assert part.status_code == 206
    assert part.content == b"RI"
    assert part.headers["content-range"] == f"bytes 0-1/{len(whole)}"


async def test_delete_one_then_several_then_all(alice, subscribe, messages) -> None:
    reader = await subscribe(alice, names=["eventSummary"])
    first, second, third = messages
    assert (await alice.delete(f"{BOX}/voicemails/{second}")).status_code == 204
    assert_error(await alice.delete(f"{BOX}/voicemails/{second}"), 404, "NOT_FOUND")
    assert (await reader.wait_for("OnEventSummaryUpdated"))["eventSummary"]["voiceMessagesNb"] == 2

    several = await alice.delete(f"{BOX}/voicemails", params={"msgIds": f"{first};999"})
    assert several.status_code == 204  # unknown ids are ignored
    listed = (await alice.get(BOX + "/voicemails")).json()["voicemails"]
    assert [vm["voicemailId"] for vm in listed] == [third]

    assert (await alice.delete(f"{BOX}/voicemails")).status_code == 204
    assert (await alice.get(BOX + "/voicemails")).json() == {"voicemails": []}
    last = await reader.wait_for("OnEventSummaryUpdated", count=3)
    assert last["eventSummary"]["voiceMessagesNb"] == 0


async def test_administrator_connects_for_a_user(session_of, messages) -> None:
    admin = await session_of("admin")
    as_alice = {"loginName": "alice"}
    assert (await admin.post(BOX, params=as_alice, json={"password": "0000"})).status_code == 200
    listed = await admin.get(BOX + "/voicemails", params=as_alice)
    assert len(listed.json()["voicemails"]) == 3
    assert_error(await admin.get("/messaging/mailboxes"), 400, "BAD_PARAMETER", "loginName")
