"""Request bodies bound as a Jackson-based gateway binds them, and ``strict`` mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.sim import Simulator
from o2g_flows.sim.server import LENIENT_KINDS

from .conftest import FAST, assert_error, login


async def lenient(sim: Simulator) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=sim.url) as world:
        return (await world.get("/sim/state")).json()["lenient"]


@pytest.fixture
async def strict_sim() -> AsyncIterator[Simulator]:
    async with Simulator(timing=FAST, strict=True) as simulator:
        yield simulator


def add_record(sim: Simulator) -> int:
    pbx = sim.pbx
    party = {"identity": pbx.party("2002")}
    record = pbx.messaging.add_record(
        "alice",
        {
            "comRef": "ref-1",
            "participants": [{"role": "CALLEE", "answered": False, **party}],
            "beginDate": "2026-03-01T10:00:00.000Z",
            "endDate": "2026-03-01T10:00:00.000Z",
            "medias": ["AUDIO"],
        },
    )
    return record["recordId"]


async def test_record_ids_sent_as_strings_are_bound_to_numbers(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    record_id = add_record(sim)
    answer = await alice.put(
        "/comlog/records", params={"acknowledge": "true"}, json={"recordIds": [str(record_id)]}
    )
    assert answer.status_code == 204, answer.text
    [record] = (await alice.get("/comlog/records")).json()["comHistoryRecords"]
    assert record["acknowledged"] is True
    assert await lenient(sim) == {
        f"PUT /comlog/records body.recordIds[0]: number sent as the string '{record_id}'": 1
    }


async def test_unknown_fields_are_ignored_and_counted(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    body = {"callee": "2002", "hexaBinaryAssociatedData": "0A", "associate": "x"}
    answer = await alice.post("/telephony/calls", json=body)
    assert answer.status_code == 201, answer.text
    counted = await lenient(sim)
    assert counted == {
        "POST /telephony/calls body.hexaBinaryAssociatedData: unknown field of MakeCallRequest "
        "ignored": 1,
        "POST /telephony/calls body.associate: unknown field of MakeCallRequest ignored": 1,
    }


async def test_missing_fields_and_wrong_types_are_still_refused(session_of) -> None:
    alice = await session_of("alice")
    assert_error(await alice.post("/telephony/calls", json={}), 400, "BAD_PARAMETER", "callee")
    assert_error(
        await alice.post("/telephony/calls", json={"callee": 2002}), 400, "BAD_PARAMETER", "string"
    )
    assert_error(
        await alice.put("/comlog/records", json={"recordIds": ["one"]}),
        400,
        "BAD_PARAMETER",
        "body.recordIds[0]: expected long",
    )


async def test_strict_mode_refuses_unknown_fields_and_numeric_strings(strict_sim) -> None:
    alice = await login(strict_sim, "alice", "1001")
    try:
        unknown = await alice.post("/telephony/calls", json={"callee": "2002", "heldCallRef": "1"})
        assert_error(unknown, 400, "BAD_PARAMETER", "unknown field 'heldCallRef'")
        text = await alice.put("/comlog/records", json={"recordIds": ["1"]})
        assert_error(text, 400, "BAD_PARAMETER", "expected long")
    finally:
        await alice.aclose()
    assert await lenient(strict_sim) == {}


async def test_supervisor_call_needs_no_callee(session_of) -> None:
    agent1, supervisor = await session_of("agent1"), await session_of("supervisor")
    assert (await agent1.post("/acd/agent/logon", json={"proAcdDeviceNumber": "2301"})).is_success
    body = {"deviceId": "2301", "autoAnswer": True, "acdCall": {"callToSupervisor": True}}
    answer = await agent1.post("/telephony/calls", json=body)
    assert answer.status_code == 201, answer.text
    [call] = (await supervisor.get("/telephony/calls")).json()["calls"]
    assert call["callRef"] == answer.json()


async def test_a_plain_call_still_needs_a_callee(session_of) -> None:
    agent1 = await session_of("agent1")
    answer = await agent1.post("/telephony/calls", json={"deviceId": "2201", "autoAnswer": True})
    assert_error(answer, 400, "BAD_PARAMETER", "missing required field 'callee'")


async def test_the_lenient_counter_stays_bounded(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    body = {"callee": "2002", **{f"field{n}": n for n in range(LENIENT_KINDS + 5)}}
    assert (await alice.post("/telephony/calls", json=body)).status_code == 201
    counted = await lenient(sim)
    assert len(counted) == LENIENT_KINDS + 1
    assert counted["(other leniencies)"] == 5
