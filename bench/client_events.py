"""Client cost on the event path and on a typical request, against the in-process simulator.

    python bench/client_events.py [--events 50000] [--requests 300]

1. Events per second through ``o2g.events(...)`` (one ``json.loads`` per line,
   channel notices consumed), next to a bare reader that only splits the same
   channel's bytes into lines. The simulator publishes a call event of ~600
   bytes, one at a time, yielding to the event loop between events, as a live
   gateway trickles them; both readers see the same stream on their own
   subscription. Targets: client >= 80% of bare, and >= 10,000 events/s.
   The parsers alone are also timed on chunks in memory, which shows what
   each event costs the client when no I/O hides it.
2. Latency of ``telephony.answer`` through the client next to a bare ``httpx``
   POST to the same URL with the same session cookies (target: ratio <= 1.2).

Everything runs in one process and one event loop, simulator included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from o2g_flows.client import O2GClient, Subscription
from o2g_flows.client.events import _Decoder
from o2g_flows.sim import Simulator

EVENT: dict[str, Any] = {
    "eventName": "OnCallModified",
    "loginName": "alice",
    "callRef": "a6aaea5b21000001",
    "callData": {
        "initialCalled": {"id": {"phoneNumber": "2001"}},
        "state": "ACTIVE",
        "tags": [],
        "capabilities": {"addMedias": [], "terminate": True, "dropMe": True},
    },
    "modifiedLegs": [
        {
            "deviceId": "2001",
            "media": "AUDIO",
            "state": "ACTIVE",
            "capabilities": {"drop": True, "hold": True, "sendDtmf": True},
        }
    ],
    "addedLegs": [],
    "removedLegs": [],
    "modifiedParticipants": [
        {
            "participantId": "+33140000001",
            "identity": {
                "id": {"phoneNumber": "+33140000001"},
                "firstName": "Victor",
                "lastName": "Vip",
                "type": {"main": "EXTERNAL"},
            },
        }
    ],
    "addedParticipants": [],
    "removedParticipantIds": [],
    "deviceCapabilities": [],
}


async def produce(sim: Simulator, count: int) -> None:
    """Publish ``count`` events, yielding to the loop after each one."""
    emit = sim.pbx.emit
    for n in range(count):
        emit({**EVENT, "n": n})
        await asyncio.sleep(0)


async def client_reader(o2g: O2GClient, subscription: Subscription, count: int) -> None:
    received = 0
    async with o2g.events(subscription) as stream:
        async for _event in stream:
            received += 1
            if received == count:
                return


async def bare_reader(url: str, cookies: httpx.Cookies, count: int) -> None:
    """Split the channel into lines and count them, nothing else."""
    received = -1  # the "Chunk started" notice
    async with (
        httpx.AsyncClient(cookies=cookies, timeout=30) as http,
        http.stream("POST", url) as response,
    ):
        pending = b""
        async for chunk in response.aiter_bytes():
            lines = (pending + chunk if pending else chunk).split(b"\n")
            pending = lines.pop()
            received += len(lines)
            if received >= count:
                return


async def wait_connected(sim: Simulator, subscription: Subscription) -> None:
    while True:
        state = sim.gateway.hub.get(subscription.id)  # type: ignore[union-attr]
        if state is not None and state.connected:
            return
        await asyncio.sleep(0.001)


async def events_benchmark(
    sim: Simulator, o2g: O2GClient, count: int, runs: int
) -> tuple[float, float]:
    """Median rates of the client stream and the bare reader, runs interleaved."""
    cookies = o2g._connection.http.cookies
    rates: dict[str, list[float]] = {"client": [], "bare": []}
    for _ in range(runs):
        for kind in ("bare", "client"):
            subscription = await o2g.subscribe(["telephony"])
            if kind == "bare":
                read = bare_reader(subscription.polling_url, cookies, count)
            else:
                read = client_reader(o2g, subscription, count)
            reader = asyncio.create_task(read)
            await wait_connected(sim, subscription)
            start = time.perf_counter()
            await produce(sim, count)
            await reader
            rates[kind].append(count / (time.perf_counter() - start))
            await o2g.unsubscribe(subscription)
    return statistics.median(rates["client"]), statistics.median(rates["bare"])


def decoding_benchmark(count: int) -> tuple[float, float]:
    """Events per second of the two parsers alone, on chunks already in memory."""
    line = json.dumps(EVENT, separators=(",", ":")).encode() + b"\n"
    chunks = [line] * count
    start = time.perf_counter()
    decoder = _Decoder(None)
    decoded = sum(len(decoder.feed(chunk)) for chunk in chunks)
    client = decoded / (time.perf_counter() - start)
    start = time.perf_counter()
    pending, split = b"", 0
    for chunk in chunks:
        lines = (pending + chunk if pending else chunk).split(b"\n")
        pending = lines.pop()
        split += len(lines)
    bare = split / (time.perf_counter() - start)
    return client, bare


async def answer_benchmark(sim: Simulator, o2g: O2GClient, count: int) -> tuple[list, list]:
    base = o2g._connection.base_url
    client_times, bare_times = [], []
    async with (
        httpx.AsyncClient(base_url=sim.url, timeout=10) as control,
        httpx.AsyncClient(cookies=o2g._connection.http.cookies, timeout=10) as bare,
    ):

        async def ringing() -> str:
            answer = await control.post("/sim/calls", json={"from": "+33140000001", "to": "2001"})
            return answer.raise_for_status().json()["callRef"]

        async def hang_up() -> None:
            (await control.post("/sim/devices/2001/hangup")).raise_for_status()

        for n in range(count + 20):  # the first 20 rounds warm up
            call_ref = await ringing()
            start = time.perf_counter()
            await o2g.telephony.answer(call_ref, "2001")
            elapsed = time.perf_counter() - start
            await hang_up()
            call_ref = await ringing()
            start = time.perf_counter()
            answer = await bare.post(
                f"{base}/telephony/calls/{call_ref}/answer", json={"deviceId": "2001"}
            )
            bare_elapsed = time.perf_counter() - start
            assert answer.status_code == 204, answer.text
            await hang_up()
            if n >= 20:
                client_times.append(elapsed)
                bare_times.append(bare_elapsed)
    return client_times, bare_times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(events: int, requests: int, runs: int) -> None:
    timing = {"keepalive_interval": 30.0, "ring_timeout": 600.0}
    async with Simulator(timing=timing) as sim, O2GClient(sim.url, "alice", "1001") as o2g:
        client_rate, bare_rate = await events_benchmark(sim, o2g, events, runs)
        size = len(json.dumps(EVENT, separators=(",", ":")))
        print(f"event stream: {events:,} events of {size} bytes per run, median of {runs} runs")
        print(f"  client o2g.events()  : {client_rate:>10,.0f} events/s   (target >= 10,000)")
        print(f"  bare line splitter   : {bare_rate:>10,.0f} events/s")
        print(f"  client / bare        : {client_rate / bare_rate:>10.0%}   (target >= 80%)")
        client_parse, bare_parse = decoding_benchmark(events)
        print("parsing alone, chunks in memory (no I/O): what each event costs the client")
        print(
            f"  client decoder       : {client_parse:>10,.0f} events/s"
            f"   ({1e6 / client_parse:.2f} us/event)"
        )
        print(
            f"  bare split           : {bare_parse:>10,.0f} events/s"
            f"   ({1e6 / bare_parse:.2f} us/event)"
        )
        client_times, bare_times = await answer_benchmark(sim, o2g, requests)
        client_p50, bare_p50 = statistics.median(client_times), statistics.median(bare_times)
        print(f"telephony.answer: {requests} calls each, interleaved")
        print(
            f"  client               : p50 {client_p50 * 1e3:.3f} ms"
            f"   p90 {percentile(client_times, 0.9) * 1e3:.3f} ms"
        )
        print(
            f"  bare httpx           : p50 {bare_p50 * 1e3:.3f} ms"
            f"   p90 {percentile(bare_times, 0.9) * 1e3:.3f} ms"
        )
        print(f"  client / httpx (p50) : {client_p50 / bare_p50:>10.2f}   (target <= 1.2)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.requests, args.runs))
