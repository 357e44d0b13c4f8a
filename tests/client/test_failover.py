"""High availability: a primary and a secondary gateway, and the switch between them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from o2g_flows.client import GAP_EVENT
from o2g_flows.sim import Simulator


@pytest.fixture
async def secondary() -> AsyncIterator[Simulator]:
    async with Simulator(timing={"keepalive_interval": 0.2}) as simulator:
        yield simulator


def busy(login: str, n: int) -> dict:
    return {"eventName": "OnUserStateModified", "loginName": login, "state": "BUSY", "n": n}


async def emit(simulator: Simulator, event: dict) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{simulator.url}/sim/events", json=event)).raise_for_status()


async def test_primary_down_at_start_opens_on_the_secondary(
    sim: Simulator, secondary: Simulator, connect
) -> None:
    await sim.stop()
    o2g = await connect("alice", secondary_url=secondary.url)
    assert o2g.server == secondary.url
    assert (await o2g.users.get_user("alice"))["loginName"] == "alice"


async def test_primary_failure_moves_requests_to_the_secondary(
    sim: Simulator, secondary: Simulator, connect, caplog: pytest.LogCaptureFixture
) -> None:
    o2g = await connect("alice", secondary_url=secondary.url)
    assert o2g.server == sim.url
    await sim.stop()
    with caplog.at_level(logging.WARNING, "o2g_flows.client"):
        user = await o2g.users.get_user("alice")
    assert user["loginName"] == "alice"
    assert o2g.server == secondary.url
    assert f"O2G failover: now on {secondary.url} (was {sim.url})" in caplog.text


async def test_not_ready_primary_hands_over_to_the_secondary(
    sim: Simulator, secondary: Simulator, connect
) -> None:
    o2g = await connect("alice", secondary_url=secondary.url)
    sim.ready = False
    await o2g.routing.activate_dnd()
    assert o2g.server == secondary.url
    assert (await o2g.routing.get_dnd_state()) == {"activate": True}


async def test_events_continue_from_the_secondary_after_a_gap(
    sim: Simulator, secondary: Simulator, connect, reader
) -> None:
    o2g = await connect("alice", secondary_url=secondary.url)
    subscription = await o2g.subscribe(["telephony"])
    events = reader(o2g.events(subscription))
    await emit(sim, busy("alice", 1))
    assert await events.next() == busy("alice", 1)
    await sim.stop()
    gap = await events.next()
    assert (gap["eventName"], gap["reason"], gap["server"]) == (
        GAP_EVENT,
        "failover",
        secondary.url,
    )
    await emit(secondary, busy("alice", 2))
    assert await events.next() == busy("alice", 2)


async def test_both_servers_back_and_forth(sim: Simulator, secondary: Simulator, connect) -> None:
    o2g = await connect("alice", secondary_url=secondary.url)
    await sim.stop()
    await o2g.users.get_user("alice")
    assert o2g.server == secondary.url
    await sim.start()
    await secondary.stop()
    await o2g.users.get_user("alice")
    assert o2g.server == sim.url
