"""Simulator throughput: events/s through one event channel, complete calls/s with 1,000 users.

Run: ``.venv/bin/python bench/sim_throughput.py``. The simulator runs in its own process
on 127.0.0.1, as a gateway runs apart from its clients. Events: its PBX publishes
realistic call events (~640-byte ``OnCallModified``, ``_emitter.py``) paced one at a time
as a live PBX trickles them, then in bursts of 500; a reader in this process only counts
the channel's lines, so that the figure is the simulator's. The simulator's CPU per event
comes from ``/proc``. Calls: ``o2g-flows sim`` with 1,000 users, driven over REST.
Targets (issue 2): >= 10,000 events/s on one channel; >= 200 calls/s (create -> answer ->
hang up) with 1,000 users and an administrator subscribed to everything.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
from _emitter import EmitterProcess

API = "/api/rest/1.0"


async def events_per_second(emitter: EmitterProcess, count: int, batch: int) -> tuple[float, float]:
    """Events/s read from one channel while the PBX publishes ``count`` events, and the
    simulator's CPU microseconds per event."""
    jar = aiohttp.CookieJar(unsafe=True)
    auth = {"Authorization": aiohttp.encode_basic_auth("alice", "1001")}
    async with aiohttp.ClientSession(emitter.url, cookie_jar=jar) as http:
        (await http.get("/api/rest/authenticate", headers=auth)).raise_for_status()
        (await http.post(API + "/sessions", json={"applicationName": "b"})).raise_for_status()
        answer = await http.post(
            API + "/subscriptions",
            json={
                "version": "1.0",
                "timeout": 0,
                "filter": {"selectors": [{"names": ["telephony"]}]},
            },
        )
        polling_url = (await answer.json())["privatePollingUrl"]
        async with http.post(polling_url, timeout=aiohttp.ClientTimeout(total=None)) as stream:
            await stream.content.readline()  # Chunk started
            received = 0

            async def read() -> None:
                nonlocal received
                async for chunk in stream.content.iter_any():
                    received += chunk.count(b"\n")
                    if received >= count:
                        return

            cpu = emitter.cpu_seconds()
            start = time.perf_counter()
            reader = asyncio.create_task(read())
            await emitter.emit_async(count, batch)
            await reader
            elapsed = time.perf_counter() - start
            cpu = emitter.cpu_seconds() - cpu
        await http.delete(API + "/sessions")
    return count / elapsed, cpu / count * 1e6


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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=1, help="calls in progress at once")
    args = parser.parse_args()
    with EmitterProcess() as emitter:
        for mode, batch in (("paced, one at a time", 1), ("bursts of 500", 500)):
            runs = [await events_per_second(emitter, args.events, batch) for _ in range(args.runs)]
            rate = statistics.median(rate for rate, _ in runs)
            cpu = statistics.median(cpu for _, cpu in runs)
            print(
                f"events through one channel, ~640 bytes, {mode}: {rate:,.0f} events/s, "
                f"simulator CPU {cpu:.1f} us/event, median of {args.runs} runs "
                "(target >= 10,000/s)"
            )
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
