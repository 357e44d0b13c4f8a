"""Directory search: criteria, DTMF search, result pages and the ResultCode cycle."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from o2g_flows.sim import Simulator

from .conftest import assert_error


def criterion(field: str, operation: str, operand: str) -> dict:
    return {"filter": {"field": field, "operation": operation, "operand": operand}}


async def results(client: httpx.AsyncClient, **params) -> list[dict]:
    """Poll GET /directory/search until FINISH; every contact found, in order."""
    contacts: list[dict] = []
    while True:
        answer = (await client.get("/directory/search", params=params)).json()
        if answer["resultCode"] == "FINISH":
            return contacts
        assert answer["resultCode"] == "OK", answer
        contacts += [c for element in answer["resultElements"] for c in element["contacts"]]


async def names_found(client: httpx.AsyncClient, body: dict, **params) -> list[str]:
    answer = await client.post("/directory/search", params=params, json=body)
    assert answer.status_code == 201, answer.text
    return [f"{c['firstName']} {c['lastName']}" for c in await results(client, **params)]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (criterion("lastName", "BEGIN_WITH", "ro"), ["Erin Robert", "Arno Roux"]),
        (criterion("lastName", "EQUAL_IGNORE_CASE", "VIP"), ["Vera Vip", "Victor Vip"]),
        (criterion("firstName", "CONTAIN", "ar"), ["Carl Customer", "Carol Dubois", "Arno Roux"]),
        (criterion("id.loginName", "END_WITH", "4"), ["Arno Roux"]),
        (criterion("id.phoneNumber", "BEGIN_WITH", "+336"), ["Mona Mobile"]),
        (criterion("lastName", "EQUAL_IGNORE_CASE", "nobody"), []),
    ],
)
async def test_search_by_criterion(session_of, body, names) -> None:
    alice = await session_of("alice")
    assert await names_found(alice, body) == names


async def test_contacts_are_users_and_external_parties(session_of) -> None:
    alice = await session_of("alice")
    await alice.post("/directory/search", json=criterion("lastName", "BEGIN_WITH", "m"))
    contacts = await results(alice)
    assert contacts == [
        {
            "id": {"loginName": "alice", "phoneNumber": "2001"},
            "firstName": "Alice",
            "lastName": "Martin",
        },
        {"id": {"phoneNumber": "+33612345678"}, "firstName": "Mona", "lastName": "Mobile"},
        {
            "id": {"loginName": "judy", "phoneNumber": "2010"},
            "firstName": "Judy",
            "lastName": "Moreau",
        },
    ]


async def test_results_come_in_pages_then_finish(session_of) -> None:
    alice = await session_of("alice")
    everyone = criterion("lastName", "CONTAIN", "")
    assert (await alice.post("/directory/search", json=everyone)).text == ""
    sizes = []
    while (answer := (await alice.get("/directory/search")).json())["resultCode"] == "OK":
        sizes.append(len(answer["resultElements"]))
    assert sizes == [10, 10, 1]  # 17 users and 4 external contacts
    assert answer == {"resultCode": "FINISH", "resultElements": []}
    assert_error(await alice.get("/directory/search"), 404, "NOT_FOUND", "No search")

    await alice.post("/directory/search", json={**everyone, "limit": 12})
    assert len(await results(alice)) == 12


async def test_delete_stops_the_search(session_of) -> None:
    alice = await session_of("alice")
    await alice.post("/directory/search", json=criterion("lastName", "CONTAIN", "a"))
    assert (await alice.delete("/directory/search")).status_code == 204
    assert_error(await alice.get("/directory/search"), 404, "NOT_FOUND")
    assert (await alice.delete("/directory/search")).status_code == 204  # nothing to stop


async def test_bad_searches(session_of) -> None:
    alice = await session_of("alice")
    search = "/directory/search"
    no_field = {"filter": {"operation": "CONTAIN", "operand": "a"}}
    assert_error(await alice.post(search, json=no_field), 400, "BAD_PARAMETER", "field")
    bad_operation = criterion("lastName", "LIKE", "a")
    assert_error(await alice.post(search, json=bad_operation), 400, "BAD_PARAMETER", "LIKE")
    for limit in (0, 101):
        body = {**criterion("lastName", "CONTAIN", "a"), "limit": limit}
        assert_error(await alice.post(search, json=body), 400, "BAD_PARAMETER", "limit")
    assert_error(await alice.post(search, json={}), 400, "BAD_PARAMETER", "filter")


async def test_criteria_combined_with_and_or(session_of) -> None:
    alice = await session_of("alice")
    both = {
        "filter": {
            "operation": "AND",
            "operand": [
                {"field": "lastName", "operation": "BEGIN_WITH", "operand": "r"},
                {
                    "operation": "OR",
                    "operand": [
                        {"field": "firstName", "operation": "EQUAL_IGNORE_CASE", "operand": "erin"},
                        {"field": "firstName", "operation": "EQUAL_IGNORE_CASE", "operand": "rita"},
                    ],
                },
            ],
        }
    }
    assert await names_found(alice, both) == ["Rita Reception", "Erin Robert"]


async def test_search_by_dtmf(session_of) -> None:
    alice = await session_of("alice")

    async def dtmf(**body) -> list[str]:
        answer = await alice.post("/directory/searchbydtmf", json=body)
        assert answer.status_code == 201, answer.text
        return [f"{c['firstName']} {c['lastName']}" for c in await results(alice)]

    assert await dtmf(lastName="76", keyboardType="ITU") == ["Erin Robert", "Arno Roux"]
    assert await dtmf(lastName="8", firstName="83", keyboardType="CCITT") == ["Vera Vip"]
    assert await dtmf(lastName="76", keyboardType="ITU", limit=1) == ["Erin Robert"]
    bad = await alice.post(
        "/directory/searchbydtmf", json={"lastName": "ro", "keyboardType": "ITU"}
    )
    assert_error(bad, 400, "BAD_PARAMETER", "keypad")
    bad = await alice.post(
        "/directory/searchbydtmf", json={"lastName": "7", "keyboardType": "QWERTY"}
    )
    assert_error(bad, 400, "BAD_PARAMETER")


async def test_five_searches_per_session(session_of) -> None:
    admin = await session_of("admin")
    body = criterion("lastName", "CONTAIN", "a")
    for login in ("alice", "bob", "carol", "dave", "erin"):
        answer = await admin.post("/directory/search", params={"loginName": login}, json=body)
        assert answer.status_code == 201
    sixth = await admin.post("/directory/search", params={"loginName": "frank"}, json=body)
    assert_error(sixth, 403, "NOT_ALLOWED", "5 searches")
    again = await admin.post("/directory/search", params={"loginName": "alice"}, json=body)
    assert again.status_code == 201  # a new search of alice replaces hers
    await admin.delete("/directory/search", params={"loginName": "bob"})
    answer = await admin.post("/directory/search", params={"loginName": "frank"}, json=body)
    assert answer.status_code == 201
    assert_error(await admin.get("/directory/search"), 400, "BAD_PARAMETER", "loginName")


async def test_needs_the_advanced_telephony_licence(session_of) -> None:
    basic = await session_of("basic")
    body = criterion("lastName", "CONTAIN", "a")
    assert_error(await basic.post("/directory/search", json=body), 403, "NOT_ALLOWED")


class TestSlowPhoneBook:
    """The phone book takes 10 minutes to answer; unused searches expire after 50 ms."""

    @pytest.fixture
    async def sim(self):
        async with Simulator(timing={"search_delay": 600, "search_idle": 0.05}) as simulator:
            yield simulator

    async def test_no_result_yet_then_timeout(self, session_of) -> None:
        alice = await session_of("alice")
        await alice.post("/directory/search", json=criterion("lastName", "CONTAIN", "a"))
        assert (await alice.get("/directory/search")).json() == {
            "resultCode": "NOK",
            "resultElements": [],
        }
        await asyncio.sleep(0.2)  # longer than search_idle: the search is dropped
        assert (await alice.get("/directory/search")).json()["resultCode"] == "TIMEOUT"
        assert_error(await alice.get("/directory/search"), 404, "NOT_FOUND")
