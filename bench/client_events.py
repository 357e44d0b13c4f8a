"""Client cost on the event path and on a typical request, against readers a user would write.

    python bench/client_events.py [--events 50000] [--runs 5] [--requests 300]

The simulator runs in its own process (``_emitter.py``) and publishes ~640-byte call
events, paced one at a time as a live gateway trickles them, then in bursts of 500.
Each reader opens its own session and subscription and reads the same events:

- ``o2g.events()``: this client (reconnection, gap markers, notices and malformed lines
  handled);
- httpx + orjson: a minimal hand-written reader, ``aiter_bytes`` split into lines, one
  ``orjson.loads`` each, channel notices skipped (the fastest reader found by hand);
- httpx ``aiter_lines`` + orjson: the same written the obvious way;
- aiohttp + orjson: ``async for line in response.content``, one ``orjson.loads`` each.

The figure is the reader process's CPU per event (``time.process_time``: the simulator's
CPU is not in it), median of the runs, readers interleaved in a rotating order; the
client's ratio is the median of each run's ratio, with their range (a busy machine
spreads them). Target (issue 12): the client at most 1.1x the CPU per event of the
minimal httpx + orjson reader.

Then the latency of ``telephony.answer`` through the client next to a bare ``httpx`` POST
on a session of its own (target: ratio <= 1.2).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import orjson
from _emitter import EmitterProcess
from _emitter import event as sample_event

from o2g_flows.client import O2GClient

API = "/api/rest/1.0"
NOTICE = "OnChannelInformation"
SUBSCRIPTION = {
    "version": "1.0",
    "timeout": 0,
    "filter": {"selectors": [{"names": ["telephony"]}]},
}

#: An open reader: ``read(count)`` returns once ``count`` events were read; ``close()``.
Opened = tuple[Callable[[int], Awaitable[None]], Callable[[], Awaitable[None]]]
#: Logs in to the simulator at a URL, subscribes, opens the channel.
Reader = Callable[[str], Awaitable[Opened]]


async def _httpx_login(url: str, login: str, password: str) -> httpx.AsyncClient:
    """An httpx client with an O2G session of ``login``."""
    http = httpx.AsyncClient(timeout=30)
    (await http.get(url + "/api/rest/authenticate", auth=(login, password))).raise_for_status()
    (await http.post(url + API + "/sessions", json={"applicationName": "b"})).raise_for_status()
    return http


async def _httpx_session(url: str) -> tuple[httpx.AsyncClient, str]:
    """Log in as alice and subscribe to telephony with plain httpx: (client, polling URL)."""
    http = await _httpx_login(url, "alice", "1001")
    answer = await http.post(url + API + "/subscriptions", json=SUBSCRIPTION)
    return http, answer.raise_for_status().json()["privatePollingUrl"]


async def client_reader(url: str) -> Opened:
    o2g = O2GClient(url, "alice", "1001")
    await o2g.open()
    stream = o2g.events(await o2g.subscribe(["telephony"]))
    events = aiter(stream)

    async def read(count: int) -> None:
        received = 0
        async for event in events:
            if event["eventName"] != NOTICE:
                received += 1
                if received == count:
                    return

    async def close() -> None:
        await stream.aclose()
        await o2g.close()

    return read, close


async def httpx_bytes_reader(url: str) -> Opened:
    http, polling_url = await _httpx_session(url)
    response = await http.send(http.build_request("POST", polling_url), stream=True)
    chunks = response.aiter_bytes()
    pending = b""

    async def read(count: int) -> None:
        nonlocal pending
        received = 0
        loads = orjson.loads
        async for chunk in chunks:
            lines = (pending + chunk if pending else chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                event = loads(line)
                if event["eventName"] != NOTICE:
                    received += 1
            if received >= count:
                return

    async def close() -> None:
        await response.aclose()
        await http.delete(url + API + "/sessions")
        await http.aclose()

    return read, close


async def httpx_lines_reader(url: str) -> Opened:
    http, polling_url = await _httpx_session(url)
    response = await http.send(http.build_request("POST", polling_url), stream=True)
    lines = response.aiter_lines()

    async def read(count: int) -> None:
        received = 0
        async for line in lines:
            event = orjson.loads(line)
            if event["eventName"] != NOTICE:
                received += 1
                if received == count:
                    return

    async def close() -> None:
        await response.aclose()
        await http.delete(url + API + "/sessions")
        await http.aclose()

    return read, close


async def aiohttp_reader(url: str) -> Opened:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    auth = {"Authorization": aiohttp.encode_basic_auth("alice", "1001")}
    (await http.get(url + "/api/rest/authenticate", headers=auth)).raise_for_status()
    (await http.post(url + API + "/sessions", json={"applicationName": "b"})).raise_for_status()
    answer = await http.post(url + API + "/subscriptions", json=SUBSCRIPTION)
    polling_url = (await answer.json())["privatePollingUrl"]
    response = await http.post(polling_url, timeout=aiohttp.ClientTimeout(total=None))
    content = response.content

    async def read(count: int) -> None:
        received = 0
        async for line in content:
            event = orjson.loads(line)
            if event["eventName"] != NOTICE:
                received += 1
                if received == count:
                    return

    async def close() -> None:
        response.close()
        await http.delete(url + API + "/sessions")
        await http.close()

    return read, close


READERS: dict[str, Reader] = {
    "o2g.events()": client_reader,
    "httpx + orjson (minimal)": httpx_bytes_reader,
    "httpx aiter_lines + orjson": httpx_lines_reader,
    "aiohttp + orjson": aiohttp_reader,
}


async def measure(emitter: EmitterProcess, reader: Reader, count: int, batch: int) -> float:
    """The reader process's CPU seconds per event while ``count`` events are read."""
    read, close = await reader(emitter.url)
    await emitter.emit_async(10, batch)  # the channel is open and warm
    await read(10)
    cpu = time.process_time()
    task = asyncio.create_task(read(count))
    await emitter.emit_async(count, batch)
    await task
    cpu = time.process_time() - cpu
    await close()
    return cpu / count


async def events_benchmark(emitter: EmitterProcess, count: int, runs: int) -> None:
    size = len(orjson.dumps(sample_event(0))) + 1
    for mode, batch in (("paced, one at a time", 1), ("bursts of 500", 500)):
        costs: dict[str, list[float]] = {name: [] for name in READERS}
        names = list(READERS)
        for run in range(runs):
            for name in names[run % len(names) :] + names[: run % len(names)]:
                costs[name].append(await measure(emitter, READERS[name], count, batch))
        medians = {name: statistics.median(values) for name, values in costs.items()}
        floor = medians["httpx + orjson (minimal)"]
        print(f"event stream, {mode}: {count:,} events of {size} bytes, median of {runs} runs")
        print(f"  {'reader':<28}{'CPU us/event':>14}{'events/s of CPU':>17}{'vs minimal':>12}")
        for name, cost in medians.items():
            print(f"  {name:<28}{cost * 1e6:>14.2f}{1 / cost:>17,.0f}{cost / floor:>11.2f}x")
        ratios = sorted(
            client / minimal
            for client, minimal in zip(
                costs["o2g.events()"], costs["httpx + orjson (minimal)"], strict=True
            )
        )
        print(
            f"  client / minimal reader: {statistics.median(ratios):.2f}x CPU per event, median "
            f"of the runs' ratios (runs: {ratios[0]:.2f}x to {ratios[-1]:.2f}x; target <= 1.10)"
        )


async def answer_benchmark(url: str, count: int) -> tuple[list[float], list[float]]:
    """``telephony.answer`` through the client, and the same POST with bare httpx."""
    client_times, bare_times = [], []
    async with (
        O2GClient(url, "bob", "1002") as o2g,
        httpx.AsyncClient(base_url=url, timeout=10) as control,
    ):
        bare = await _httpx_login(url, "bob", "1002")

        async def ringing() -> str:
            answer = await control.post("/sim/calls", json={"from": "+33140000001", "to": "2002"})
            return answer.raise_for_status().json()["callRef"]

        async def hang_up() -> None:
            (await control.post("/sim/devices/2002/hangup")).raise_for_status()

        for n in range(count + 20):  # the first 20 rounds warm up
            call_ref = await ringing()
            start = time.perf_counter()
            await o2g.telephony.answer(call_ref, "2002")
            elapsed = time.perf_counter() - start
            await hang_up()
            call_ref = await ringing()
            start = time.perf_counter()
            answer = await bare.post(
                f"{url}{API}/telephony/calls/{call_ref}/answer", json={"deviceId": "2002"}
            )
            bare_elapsed = time.perf_counter() - start
            assert answer.status_code == 204, answer.text
            await hang_up()
            if n >= 20:
                client_times.append(elapsed)
                bare_times.append(bare_elapsed)
        await bare.aclose()
    return client_times, bare_times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(events: int, requests: int, runs: int) -> None:
    with EmitterProcess() as emitter:
        await events_benchmark(emitter, events, runs)
        client_times, bare_times = await answer_benchmark(emitter.url, requests)
    client_p50, bare_p50 = statistics.median(client_times), statistics.median(bare_times)
    print(f"telephony.answer: {requests} calls each, interleaved")
    for name, times in (("client", client_times), ("bare httpx", bare_times)):
        print(
            f"  {name:<20} p50 {statistics.median(times) * 1e3:.3f} ms"
            f"   p90 {percentile(times, 0.9) * 1e3:.3f} ms"
        )
    print(f"  client / httpx (p50): {client_p50 / bare_p50:.2f}   (target <= 1.2)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.requests, args.runs))
