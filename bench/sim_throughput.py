"""Simulator throughput: events/s through one event channel, complete calls/s with 1,000 users.

Run: ``.venv/bin/python bench/sim_throughput.py``. The event figure uses an in-process
simulator; the call figure runs ``o2g-flows sim`` in its own process on 127.0.0.1, as a
gateway runs apart from its clients, and drives it over REST from this one.
Targets (issue 2): >= 10,000 events/s on one channel; >= 200 calls/s (create -> answer ->
hang up) with 1,000 users and an administrator subscribed to everything.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx

from o2g_flows.sim import Simulator

API = "/api/rest/1.0"


async def _admin(url: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url + API, timeout=30)
    await client.get(url + "/api/rest/authenticate", auth=("admin", "admin"))
    await client.post("/sessions", json={"applicationName": "bench"})
    return client


async def _subscribe_all(client: httpx.AsyncClient, names: list[str]) -> str:
    answer = await client.post(
        "/subscriptions",
        json={
            "version": "1.0",
            "timeout": 0,
            "filter": {"selectors": [{"names": [name], "ids": ["*"]} for name in names]},
        },
    )
    return answer.json()["privatePollingUrl"]


async def events_per_second(count: int) -> float:
    """Events emitted by the PBX and read, line by line, from one chunk channel."""
    async with Simulator() as sim:
        client = await _admin(sim.url)
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


def _big_pbx_file(users: int, directory: Path) -> Path:
    """A PBX file with ``users`` users (numbers 100000...) and one administrator."""
    lines = [
        f"licenses: {{TELEPHONY_ADVANCED: {users}}}",
        "administrators: [{login: admin, password: admin}]",
        "users:",
    ]
    lines += [
        f"  - {{login: u{n}, password: pw, number: '{100000 + n}', voicemail: '{100000 + n}'}}"
        for n in range(users)
    ]
    path = directory / "big_pbx.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.asynccontextmanager
async def _simulator_process(pbx_file: Path) -> AsyncIterator[str]:
    """``o2g-flows sim`` in its own process (a gateway has its own cores); yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "o2g_flows",
        "sim",
        "--port",
        str(port),
        "--pbx",
        str(pbx_file),
        stdout=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe_client:
            for _ in range(200):
                try:
                    await probe_client.get(url + "/api/rest")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def calls_per_second(url: str, users: int, calls: int, concurrency: int) -> tuple[float, int]:
    """Complete calls (make call, answer, release) over REST, an admin subscribed to all.

    The load is generated with aiohttp's client, the lightest at hand, so that the figure
    is the simulator's rather than the load generator's.
    """
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(url, cookie_jar=jar) as http:
        credentials = base64.b64encode(b"admin:admin").decode()
        authenticated = await http.get(
            "/api/rest/authenticate", headers={"Authorization": f"Basic {credentials}"}
        )
        authenticated.raise_for_status()
        (await http.post(API + "/sessions", json={"applicationName": "bench"})).raise_for_status()
        answer = await http.post(
            API + "/subscriptions",
            json={
                "version": "1.0",
                "timeout": 0,
                "filter": {
                    "selectors": [
                        {"names": [name], "ids": ["*"]}
                        for name in ("telephony", "eventSummary", "unifiedComLog")
                    ]
                },
            },
        )
        polling_url = (await answer.json())["privatePollingUrl"]
        seen = 0

        async def consume() -> None:
            nonlocal seen
            async with http.post(polling_url) as stream:
                async for _ in stream.content:
                    seen += 1

        reader = asyncio.create_task(consume())
        await asyncio.sleep(0.05)

        async def worker(first: int) -> None:
            for n in range(first, calls, concurrency):
                caller, callee = f"u{(2 * n) % users}", str(100000 + (2 * n + 1) % users)
                async with http.post(
                    f"{API}/telephony/calls?loginName={caller}", json={"callee": callee}
                ) as made:
                    made.raise_for_status()
                    call_ref = await made.json()
                async with http.post(
                    f"{API}/telephony/calls/{call_ref}/answer", json={"deviceId": callee}
                ) as answered:
                    answered.raise_for_status()
                async with http.delete(
                    f"{API}/telephony/calls/{call_ref}?loginName={caller}"
                ) as released:
                    released.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker(first) for first in range(concurrency)))
        elapsed = time.perf_counter() - start
        await asyncio.sleep(0.2)
        reader.cancel()
    return calls / elapsed, seen


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=1, help="calls in progress at once")
    args = parser.parse_args()
    rate = await events_per_second(args.events)
    print(f"events through one channel: {rate:,.0f} events/s  (target >= 10,000)")
    with tempfile.TemporaryDirectory() as directory:
        pbx_file = _big_pbx_file(args.users, Path(directory))
        for concurrency in sorted({1, args.concurrency, 8}):
            async with _simulator_process(pbx_file) as url:
                call_rate, seen = await calls_per_second(url, args.users, args.calls, concurrency)
            print(
                f"complete calls, {args.users} users, admin subscribed to all, "
                f"{concurrency} at once: {call_rate:,.0f} calls/s  "
                f"(target >= 200; {seen:,} events streamed)"
            )


if __name__ == "__main__":
    asyncio.run(main())
