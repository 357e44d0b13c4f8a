"""Simulator throughput: events/s through one event channel, complete calls/s with 1,000 users.

Run: ``.venv/bin/python bench/sim_throughput.py`` (in-process simulator on 127.0.0.1).
Targets (issue 2): >= 10,000 events/s on one channel; >= 200 calls/s (create -> answer ->
hang up) with 1,000 users and an administrator subscribed to everything.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from o2g_flows.sim import Simulator, load_pbx_file
from o2g_flows.sim.pbx.config import PbxConfig, User

API = "/api/rest/1.0"


async def _admin(sim: Simulator) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=sim.url + API, timeout=30)
    await client.get(sim.url + "/api/rest/authenticate", auth=("admin", "admin"))
    await client.post("/sessions", json={"applicationName": "bench"})
    return client


async def _subscribe_all(client: httpx.AsyncClient, names: list[str]) -> str:
    answer = await client.post("/subscriptions", json={
        "version": "1.0", "timeout": 0,
        "filter": {"selectors": [{"names": [name], "ids": ["*"]} for name in names]}})
    return answer.json()["privatePollingUrl"]


async def events_per_second(count: int) -> float:
    """Events emitted by the PBX and read, line by line, from one chunk channel."""
    async with Simulator() as sim:
        client = await _admin(sim)
        url = await _subscribe_all(client, ["telephony"])
        event = {"eventName": "OnUserStateModified", "loginName": "alice", "state": "BUSY"}
        received = 0
        async with client.stream("POST", url) as stream:
            lines = stream.aiter_lines()
            await anext(lines)  # Chunk started

            async def produce() -> None:
                for index in range(count):
                    sim.pbx.emit(event)
                    if index % 500 == 0:
                        await asyncio.sleep(0)

            start = time.perf_counter()
            producer = asyncio.create_task(produce())
            async for _ in lines:
                received += 1
                if received == count:
                    break
            elapsed = time.perf_counter() - start
            await producer
        await client.aclose()
    return count / elapsed


def _big_pbx(users: int) -> PbxConfig:
    config = load_pbx_file()
    config.users = [User(login=f"u{n}", password="pw", number=str(100000 + n),
                         voicemail=str(100000 + n), licenses={"TELEPHONY_ADVANCED"})
                    for n in range(users)]
    config.hunting_groups, config.pilots, config.processing_groups = [], [], []
    config.licenses["TELEPHONY_ADVANCED"] = users
    from o2g_flows.sim.pbx.config import Device

    for user in config.users:
        user.devices = [Device(id=user.number)]
    return config


async def calls_per_second(users: int, calls: int) -> tuple[float, int]:
    """Complete calls (make call, answer, release) over REST, an admin subscribed to all."""
    async with Simulator(_big_pbx(users)) as sim:
        client = await _admin(sim)
        url = await _subscribe_all(client, ["telephony", "eventSummary", "unifiedComLog"])
        seen = 0

        async def consume() -> None:
            nonlocal seen
            async with client.stream("POST", url) as stream:
                async for _ in stream.aiter_lines():
                    seen += 1

        reader = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        for n in range(calls):
            caller, callee = f"u{(2 * n) % users}", f"u{(2 * n + 1) % users}"
            callee_device = sim.pbx.users[callee].number
            answer = await client.post(f"/telephony/calls?loginName={caller}",
                                       json={"callee": callee_device})
            answer.raise_for_status()
            call_ref = answer.json()
            (await client.post(f"/telephony/calls/{call_ref}/answer",
                               json={"deviceId": callee_device})).raise_for_status()
            (await client.delete(f"/telephony/calls/{call_ref}?loginName={caller}")
             ).raise_for_status()
        elapsed = time.perf_counter() - start
        await asyncio.sleep(0.1)
        reader.cancel()
        await client.aclose()
    return calls / elapsed, seen


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=1_000)
    args = parser.parse_args()
    rate = await events_per_second(args.events)
    print(f"events through one channel: {rate:,.0f} events/s  (target >= 10,000)")
    call_rate, seen = await calls_per_second(args.users, args.calls)
    print(f"complete calls, {args.users} users, admin subscribed to all: {call_rate:,.0f} calls/s"
          f"  (target >= 200; {seen:,} events streamed)")


if __name__ == "__main__":
    asyncio.run(main())
