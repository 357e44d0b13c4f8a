"""End-to-end latency: a call rings at the reception, o2g-flows answers it, over real HTTP.

The simulator runs in a process of its own, as a gateway would, and so does whatever
answers: ``o2g-flows run`` with a one-rule flow (answer every call ringing at the
reception), or, as the baseline, a hand-written asyncio + httpx script that reads the same
event stream and answers directly. A third process places calls at a given rate and
watches the events: the latency of a call is the time from its ringing event
(``OnCallCreated``) to the event that says it was answered (``OnCallModified`` ACTIVE),
both read on the same kind of channel, so what is measured is the answerer's reaction
plus one REST request.

    python bench/end_to_end.py [--calls 300] [--rates 20,50,100,200]

Prints p50/p90/p99 for both at the lowest rate (targets: o2g-flows p50 <= 1.5x the script,
p99 <= 10 ms on loopback), then the rate at which o2g-flows' p99 doubles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from o2g_flows.client import O2GClient

RULE = """\
flow: answer-everything
users: [reception]
on: OnCallCreated
when: "event.legs[0].state == 'RINGING_INCOMING'"
do: [answer]
"""

SCRIPT = """\
import asyncio, sys
import httpx, orjson

async def main(url):
    async with httpx.AsyncClient(base_url=url + "/api/rest/1.0", timeout=10) as http:
        await http.get(url + "/api/rest/authenticate", params={"version": "1.0"},
                       auth=("admin", "admin"))
        await http.post("/sessions", json={"applicationName": "script"})
        sub = (await http.post("/subscriptions", json={"version": "1.0", "timeout": 0,
            "filter": {"selectors": [{"ids": ["reception"], "names": ["telephony"]}]}})).json()
        print("subscribed", flush=True)
        async with http.stream("GET", sub["publicPollingUrl"], timeout=None) as stream:
            async for line in stream.aiter_lines():
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if (event.get("eventName") == "OnCallCreated"
                        and event["legs"][0]["state"] == "RINGING_INCOMING"):
                    await http.post(f"/telephony/calls/{event['callRef']}/answer",
                                    params={"loginName": "reception"},
                                    json={"deviceId": event["legs"][0]["deviceId"]})

asyncio.run(main(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], ready: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while ready not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{command[:4]} did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return process


async def measure(url: str, calls: int, rate: float) -> list[float]:
    """Latencies (s) of ``calls`` calls placed at ``rate`` per second."""
    created: dict[str, float] = {}
    latencies: list[float] = []
    async with O2GClient(url, "admin", "admin") as o2g:
        subscription = await o2g.subscribe(["telephony"], ids=["reception"])
        done = asyncio.Event()

        async def watch() -> None:
            async for event in o2g.events(subscription):
                now = time.perf_counter()
                name, ref = event.get("eventName"), event.get("callRef")
                if name == "OnCallCreated":
                    created.setdefault(ref, now)
                elif name == "OnCallModified" and ref in created:
                    legs = event.get("modifiedLegs") or []
                    if legs and legs[0].get("state") == "ACTIVE":
                        latencies.append(now - created.pop(ref))
                        if len(latencies) == calls:
                            done.set()

        watcher = asyncio.create_task(watch())
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            for _n in range(calls):
                started = time.perf_counter()
                answer = await control.post(
                    "/sim/calls", json={"from": "+33140000001", "to": "2000"}
                )
                ref = answer.json()["callRef"]
                await asyncio.sleep(0.2 / rate)
                await control.post("/sim/externals/+33140000001/hangup", json={"callRef": ref})
                await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 30)
        watcher.cancel()
    return latencies


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000

    return at(0.5), at(0.9), at(0.99)


async def run_one(kind: str, calls: int, rates: list[float], folder: Path) -> list[tuple]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start(
        [sys.executable, "-m", "o2g_flows", "sim", "--port", str(port)],
        "O2G simulator listening",
        folder / f"sim-{kind}.log",
    )
    try:
        if kind == "o2g-flows":
            flows = folder / "flows"
            flows.mkdir(exist_ok=True)
            (flows / "answer.yaml").write_text(RULE)
            os.environ.update(O2G_LOGIN="admin", O2G_PASSWORD="admin")
            command = [
                sys.executable, "-m", "o2g_flows", "-q", "run", str(flows), "--server", url,
                "--state", ":memory:", "--no-reload", "--plugins", str(folder / "none"),
            ]  # fmt: skip
            ready = ""
        else:
            script = folder / "answer.py"
            script.write_text(SCRIPT)
            command, ready = [sys.executable, str(script), url], "subscribed"
        answerer = start(command, ready, folder / f"{kind}.log")
        await asyncio.sleep(1.0)  # the answerer subscribed
        results = []
        for rate in rates:
            latencies = await measure(url, calls, rate)
            results.append((rate, len(latencies), *percentiles(latencies)))
        answerer.terminate()
        answerer.wait(10)
        return results
    finally:
        sim.terminate()
        sim.wait(10)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rates", default="20,50,100,200")
    options = parser.parse_args()
    rates = [float(rate) for rate in options.rates.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        script = await run_one("script", options.calls, rates[:1], Path(folder))
        engine = await run_one("o2g-flows", options.calls, rates, Path(folder))
    _, _, s50, s90, s99 = script[0]
    _, _, e50, e90, e99 = engine[0]
    print(f"answer latency at {rates[0]:g} calls/s, {options.calls} calls (ms, p50/p90/p99):")
    print(f"  hand-written asyncio+httpx script: {s50:.2f} / {s90:.2f} / {s99:.2f}")
    print(f"  o2g-flows run (one rule):          {e50:.2f} / {e90:.2f} / {e99:.2f}")
    print(f"  o2g-flows p50 / script p50: {e50 / s50:.2f} (target <= 1.5); p99 {e99:.2f} ms "
          "(target <= 10 ms)")  # fmt: skip
    doubled = next((rate for rate, _, _, _, p99 in engine if p99 > 2 * e99), None)
    for rate, count, p50, p90, p99 in engine:
        print(f"  {rate:>6g} calls/s: {count} answered, p50 {p50:.2f} p90 {p90:.2f} p99 {p99:.2f}")
    print(
        f"  p99 doubles at {doubled:g} calls/s"
        if doubled
        else f"  p99 did not double up to {rates[-1]:g} calls/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
