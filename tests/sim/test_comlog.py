"""Communication log: filtered and paged records, acknowledgement, deletion and their events."""

from __future__ import annotations

import httpx
import pytest

from o2g_flows.sim import Simulator

from .conftest import assert_error

DAY1, DAY2, DAY3 = (f"2026-03-0{day}T10:00:00.000Z" for day in (1, 2, 3))


def add_call(
    sim: Simulator, owner: str, other: str, *, role: str, answered: bool, begin: str
) -> int:
    """Write a call record in ``owner``'s log as the call model does; return its id."""
    pbx = sim.pbx
    record = pbx.messaging.add_record(
        owner,
        {
            "comRef": f"ref-{begin}",
            "participants": [
                {
                    "role": role,
                    "answered": answered,
                    "identity": pbx.party(pbx.users[owner].number),
                },
                {"identity": pbx.party(other)},
            ],
            "beginDate": begin,
            "endDate": begin,
            "medias": ["AUDIO"],
        },
    )
    return record["recordId"]


@pytest.fixture
def calls(sim: Simulator) -> dict[str, int]:
    """alice's log: a missed outside call, an answered call to bob, a missed call from bob."""
    return {
        "missed_outside": add_call(
            sim, "alice", "+33140000001", role="CALLEE", answered=False, begin=DAY1
        ),
        "to_bob": add_call(sim, "alice", "2002", role="CALLER", answered=True, begin=DAY2),
        "missed_bob": add_call(sim, "alice", "2002", role="CALLEE", answered=False, begin=DAY3),
    }


async def ids_of(client: httpx.AsyncClient, **params) -> list[int]:
    answer = await client.get("/comlog/records", params=params)
    assert answer.status_code == 200, answer.text
    return [record["recordId"] for record in answer.json()["comHistoryRecords"]]


async def test_empty_log(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get("/comlog/records")).json() == {
        "comHistoryRecords": [],
        "offset": 0,
        "limit": 0,
        "totalCount": 0,
    }


async def test_records_newest_first_with_each_filter(session_of, calls) -> None:
    alice = await session_of("alice")
    missed_outside, to_bob, missed_bob = calls.values()
    everything = (await alice.get("/comlog/records")).json()
    assert everything["totalCount"] == 3
    assert [r["recordId"] for r in everything["comHistoryRecords"]] == [
        missed_bob,
        to_bob,
        missed_outside,
    ]

    assert await ids_of(alice, unanswered="true") == [missed_bob, missed_outside]
    assert await ids_of(alice, unacknowledged="true") == [missed_bob, to_bob, missed_outside]
    assert await ids_of(alice, role="CALLER") == [to_bob]
    assert await ids_of(alice, afterDate=DAY2) == [missed_bob, to_bob]
    assert await ids_of(alice, beforeDate=DAY2) == [missed_outside]
    assert await ids_of(alice, comRef=f"ref-{DAY2}") == [to_bob]
    assert await ids_of(alice, remotePartyId="bob") == [missed_bob, to_bob]
    assert await ids_of(alice, remotePartyId="+33140000001") == [missed_outside]
    assert await ids_of(alice, role="CALLEE", unanswered="true", afterDate=DAY2) == [missed_bob]
    only = await ids_of(alice, recordIdList=f"{missed_outside},{to_bob},999", role="CALLER")
    assert only == [to_bob, missed_outside]  # recordIdList ignores the other criteria


async def test_pages_and_optimized_identities(session_of, calls) -> None:
    alice = await session_of("alice")
    page = (await alice.get("/comlog/records", params={"offset": 1, "limit": 1})).json()
    assert page["offset"] == 1 and page["limit"] == 1 and page["totalCount"] == 3
    assert [r["recordId"] for r in page["comHistoryRecords"]] == [calls["to_bob"]]

    records = (await alice.get("/comlog/records", params={"optimized": "true"})).json()
    identities = [
        [p["identity"] for p in record["participants"]] for record in records["comHistoryRecords"]
    ]
    assert identities[0][1]["lastName"] == "Bernard"  # bob, first time: in full
    assert identities[1][1] == {"id": {"loginName": "bob", "phoneNumber": "2002"}}
    assert identities[1][0] == {"id": {"loginName": "alice", "phoneNumber": "2001"}}


@pytest.mark.parametrize(
    "params",
    [
        {"role": "BOSS"},
        {"afterDate": "yesterday"},
        {"recordIdList": "one,two"},
        {"offset": "-1"},
        {"limit": "many"},
        {"unanswered": "maybe"},
    ],
)
async def test_bad_filters(session_of, params) -> None:
    alice = await session_of("alice")
    assert_error(await alice.get("/comlog/records", params=params), 400, "BAD_PARAMETER")


async def test_one_record_and_the_id_list(session_of, calls) -> None:
    alice = await session_of("alice")
    record = (await alice.get(f"/comlog/records/{calls['to_bob']}")).json()
    assert record["comRef"] == f"ref-{DAY2}"
    assert record["acknowledged"] is False
    assert record["medias"] == ["AUDIO"]
    assert_error(await alice.get("/comlog/records/999"), 404, "NOT_FOUND")
    ids = (await alice.get("/comlog/records/recordIds")).json()
    assert ids == {"recordIds": list(reversed(calls.values()))}


async def test_acknowledge_and_unacknowledge_with_events(session_of, subscribe, calls) -> None:
    alice = await session_of("alice")
    comlog = await subscribe(alice, names=["unifiedComLog"])
    summary = await subscribe(alice, names=["eventSummary"])
    missed = calls["missed_outside"]
    assert (await alice.get("/eventSummary")).json()["missedCallsNb"] == 2

    ack = await alice.put(
        "/comlog/records", params={"acknowledge": "true"}, json={"recordIds": [missed]}
    )
    assert ack.status_code == 204
    assert (await alice.get(f"/comlog/records/{missed}")).json()["acknowledged"] is True
    assert await comlog.wait_for("OnComRecordsAck") == {
        "eventName": "OnComRecordsAck",
        "loginName": "alice",
        "recordIds": [missed],
    }
    modified = await comlog.wait_for("OnComRecordModified")
    assert modified["record"] == {"recordId": missed, "comRef": f"ref-{DAY1}", "acknowledged": True}
    counters = await summary.wait_for("OnEventSummaryUpdated")
    assert counters["eventSummary"]["missedCallsNb"] == 1

    unack = await alice.put(
        "/comlog/records", params={"acknowledge": "false"}, json={"recordIds": [missed]}
    )
    assert unack.status_code == 204
    assert (await comlog.wait_for("OnComRecordsUnAck"))["recordIds"] == [missed]
    counters = await summary.wait_for("OnEventSummaryUpdated", count=2)
    assert counters["eventSummary"]["missedCallsNb"] == 2


async def test_refused_acknowledgements_change_nothing(session_of, calls) -> None:
    alice = await session_of("alice")
    missed = calls["missed_outside"]
    unknown = await alice.put(
        "/comlog/records", params={"acknowledge": "true"}, json={"recordIds": [missed, 999]}
    )
    assert_error(unknown, 404, "NOT_FOUND", "999")
    no_flag = await alice.put("/comlog/records", json={"recordIds": [missed]})
    assert_error(no_flag, 400, "BAD_PARAMETER", "acknowledge")
    text_ids = await alice.put(
        "/comlog/records", params={"acknowledge": "true"}, json={"recordIds": ["x"]}
    )
    assert_error(text_ids, 400, "BAD_PARAMETER")
    assert (await alice.get(f"/comlog/records/{missed}")).json()["acknowledged"] is False


async def test_delete_one_record(session_of, subscribe, calls) -> None:
    alice = await session_of("alice")
    comlog = await subscribe(alice, names=["unifiedComLog"])
    assert (await alice.delete(f"/comlog/records/{calls['to_bob']}")).status_code == 204
    assert_error(await alice.get(f"/comlog/records/{calls['to_bob']}"), 404, "NOT_FOUND")
    deleted = await comlog.wait_for("OnComRecordsDeleted")
    assert deleted["recordIds"] == [calls["to_bob"]]
    assert_error(await alice.delete("/comlog/records/999"), 404, "NOT_FOUND")


async def test_delete_filtered_then_all_records(session_of, subscribe, calls) -> None:
    alice = await session_of("alice")
    comlog = await subscribe(alice, names=["unifiedComLog"])
    summary = await subscribe(alice, names=["eventSummary"])

    assert (await alice.delete("/comlog/records", params={"unanswered": "true"})).is_success
    assert await ids_of(alice) == [calls["to_bob"]]
    deleted = await comlog.wait_for("OnComRecordsDeleted")
    assert sorted(deleted["recordIds"]) == [calls["missed_outside"], calls["missed_bob"]]
    assert (await summary.wait_for("OnEventSummaryUpdated"))["eventSummary"]["missedCallsNb"] == 0

    assert (await alice.delete("/comlog/records")).status_code == 204
    assert await ids_of(alice) == []
    everything = await comlog.wait_for("OnComRecordsDeleted", count=2)
    assert "recordIds" not in everything  # absent: all the user's records

    assert (await alice.delete("/comlog/records")).status_code == 204  # nothing left: no event
    assert_error(
        await alice.delete("/comlog/records", params={"unanswered": "maybe"}), 400, "BAD_PARAMETER"
    )


async def test_administrator_needs_login_name_and_user_sessions_ignore_it(session_of, calls):
    admin, bob = await session_of("admin"), await session_of("bob")
    assert_error(await admin.get("/comlog/records"), 400, "BAD_PARAMETER", "loginName")
    assert await ids_of(admin, loginName="alice") == list(reversed(calls.values()))
    assert await ids_of(bob, loginName="alice") == []  # bob's own (empty) log
