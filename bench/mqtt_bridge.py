"""The MQTT bridge with 1,000 users exposed: event-to-state latency and messages per second.

Four processes, as in production: the simulator (a 1,000-user PBX), a mosquitto broker on
loopback, ``o2g-flows run`` with the ``mqtt`` plugin exposing every user, and this bench,
which places calls over REST and watches both sides: it has its own O2G subscription (the
time a callee's ``OnCallCreated`` reaches a client) and its own MQTT subscription (the time
that callee's presence turns ``ringing`` at the broker). Latency is the difference, so
what is measured is the bridge's reaction plus one broker hop.

The baseline is a hand-written asyncio script doing the same job with the same libraries
(httpx for the event stream, aiomqtt to publish): it keeps each user's calls from the
events and publishes the presence, retained, on every event; no snapshot, no discovery, no
commands. It runs in the same place on the same simulator and broker, after the bridge.

    python bench/mqtt_bridge.py [--users 1000] [--calls 300] [--rate 20] [--burst 1000]

Prints: the bridge's start (discovery + state of every user: messages and messages/s),
p50/p99 latency at ``--rate`` calls/s for the bridge and the script and their ratio, and
the state messages/s each sustains through a burst of ``--burst`` calls (20 at a time;
the simulator's calls/s bound it: the bridge publishes 8 state messages a call, presence
and its attributes for both parties, the script one per O2G event).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import httpx

from o2g_flows.client import O2GClient

ROOT = Path(__file__).resolve().parents[1]

FLOW = """\
flow: idle
key: event.topic
on: MqttMessage
do: [{log: "${event.topic}"}]
"""

SCRIPT = """\
import asyncio, sys
import aiomqtt, httpx, orjson

async def main(url, port, users):
    async with httpx.AsyncClient(base_url=url + "/api/rest/1.0", timeout=30) as http, \\
            aiomqtt.Client("127.0.0.1", port) as mqtt:
        await http.get(url + "/api/rest/authenticate", params={"version": "1.0"},
                       auth=("admin", "admin"))
        await http.post("/sessions", json={"applicationName": "script"})
        names = ["OnCallCreated", "OnCallModified", "OnCallRemoved"]
        sub = (await http.post("/subscriptions", json={"version": "1.0", "timeout": 0,
            "filter": {"selectors": [{"ids": users, "names": names}]}})).json()
        calls = {}
        print("subscribed", flush=True)
        async with http.stream("GET", sub["publicPollingUrl"], timeout=None) as stream:
            async for line in stream.aiter_lines():
                if not line.strip():
                    continue
                event = orjson.loads(line)
                login, ref = event.get("loginName"), event.get("callRef")
                if login is None or ref is None:
                    continue
                mine = calls.setdefault(login, {})
                if event["eventName"] == "OnCallRemoved":
                    mine.pop(ref, None)
                else:
                    mine[ref] = (event.get("callData") or {}).get("state")
                if "RINGING_INCOMING" in mine.values():
                    presence = "ringing"
                else:
                    presence = "on_call" if mine else "idle"
                await mqtt.publish(f"script/user/{login}/presence", presence, retain=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def big_pbx(users: int, folder: Path) -> Path:
    """A PBX file with ``users`` users (u0..., numbers 100000...) and one administrator."""
    lines = [
        f"licenses: {{TELEPHONY_ADVANCED: {users}}}",
        "administrators: [{login: admin, password: admin}]",
        "timing: {ring_timeout: 600}",
        "users:",
    ]
    lines += [
        f"  - {{login: u{n}, password: pw, number: '{100000 + n}', voicemail: '{100000 + n}'}}"
        for n in range(users)
    ]
    path = folder / "pbx.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def process(command: list[str], log: Path, wait_for: str, cwd: Path | None = None):
    """A process whose log shows ``wait_for`` once it is ready."""
    with log.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        deadline = time.monotonic() + 120
        while wait_for not in log.read_text(errors="replace"):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:4]} did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()


class Watcher:
    """This bench's view: callees' OnCallCreated (O2G) and presence messages (MQTT)."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}  # login -> when its last call rang
        self.ringing: dict[tuple[str, str], float] = {}  # (base, login) -> when shown
        self.messages: dict[str, list[float]] = {}  # base -> arrival times

    async def o2g(self, url: str, users: list[str], ready: asyncio.Event) -> None:
        async with O2GClient(url, "admin", "admin") as client:
            subscription = await client.subscribe(["OnCallCreated"], users)
            ready.set()
            async for event in client.events(subscription):
                if (event.get("callData") or {}).get("state") == "RINGING_INCOMING":
                    self.created[event["loginName"]] = time.perf_counter()

    async def mqtt(self, port: int, ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", port, max_queued_incoming_messages=0) as client:
            await client.subscribe("+/user/#")
            ready.set()
            async for message in client.messages:
                now = time.perf_counter()
                base, _, login, *rest = message.topic.value.split("/")
                self.messages.setdefault(base, []).append(now)
                if rest == ["presence"] and message.payload == b"ringing" and not message.retain:
                    self.ringing[(base, login)] = now


async def place_calls(url: str, users: int, calls: int, rate: float, concurrency: int) -> None:
    """``calls`` calls u(2n) -> u(2n+1), each released 0.2 s after it was placed; at most
    ``rate`` per second (0: as fast as ``concurrency`` workers go)."""
    async with O2GClient(url, "admin", "admin") as client:
        start = time.perf_counter()
        pairs = users // 2

        async def one(n: int) -> None:
            caller = f"u{(2 * n) % (2 * pairs)}"
            callee = str(100000 + (2 * n + 1) % (2 * pairs))
            ref = await client.telephony.make_call(callee, login_name=caller)
            await asyncio.sleep(0.2)
            assert ref is not None
            await client.telephony.release(ref, login_name=caller)

        if rate:
            tasks = []
            for n in range(calls):
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(one(n)))
            await asyncio.gather(*tasks)
        else:

            async def worker(first: int) -> None:
                for n in range(first, calls, concurrency):
                    await one(n)

            await asyncio.gather(*(worker(first) for first in range(concurrency)))


async def measure(
    name: str, base: str, url: str, args: argparse.Namespace, watcher: Watcher
) -> tuple[list[float], float, float]:
    """Latencies (ms) at ``args.rate``, then messages/s through a burst, and its calls/s."""
    watcher.created.clear()
    await place_calls(url, args.users, args.calls, args.rate, 1)
    await asyncio.sleep(1.0)
    latencies = []
    for n in range(args.calls):
        login = f"u{(2 * n + 1) % (2 * (args.users // 2))}"
        shown, rang = watcher.ringing.get((base, login)), watcher.created.get(login)
        if shown is not None and rang is not None:
            latencies.append((shown - rang) * 1000)
    missing = args.calls - len(latencies)
    if missing:
        print(f"  {name}: {missing} call(s) without a matching ringing message")
    before = len(watcher.messages.get(base, []))
    began = time.perf_counter()
    await place_calls(url, args.users, args.burst, 0, 20)
    calls_rate = args.burst / (time.perf_counter() - began)
    await asyncio.sleep(1.0)
    arrivals = watcher.messages.get(base, [])[before:]
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    return latencies, rate, calls_rate


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=1_000)
    args = parser.parse_args()
    broker_binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    users = [f"u{n}" for n in range(args.users)]
    with (
        tempfile.TemporaryDirectory(prefix="o2g-bench-mqtt-") as name,
        contextlib.ExitStack() as stack,
    ):
        folder = Path(name)
        folder.chmod(0o755)
        mqtt_port, sim_port, status_port = free_port(), free_port(), free_port()
        (folder / "mosquitto.conf").write_text(
            f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        stack.enter_context(
            process(
                [broker_binary, "-c", str(folder / "mosquitto.conf")],
                folder / "broker.log",
                "running",
            )
        )
        sim = [sys.executable, "-m", "o2g_flows", "sim", "--port", str(sim_port)]
        stack.enter_context(
            process(
                [*sim, "--pbx", str(big_pbx(args.users, folder))],
                folder / "sim.log",
                "listening on",
            )
        )
        url = f"http://127.0.0.1:{sim_port}"
        watcher = Watcher()
        ready_o2g, ready_mqtt = asyncio.Event(), asyncio.Event()
        watching = [
            asyncio.create_task(watcher.o2g(url, users, ready_o2g)),
            asyncio.create_task(watcher.mqtt(mqtt_port, ready_mqtt)),
        ]
        await ready_o2g.wait()
        await ready_mqtt.wait()

        (folder / "flows").mkdir()
        (folder / "flows" / "idle.yaml").write_text(FLOW)
        (folder / "o2g-flows.yaml").write_text(
            f"plugins: [{ROOT / 'plugins'}]\nreload: false\nlogging: {{level: warning}}\n"
            "plugin_settings:\n  mqtt:\n"
            f"    url: mqtt://127.0.0.1:{mqtt_port}\n    base_topic: o2g\n"
            f"    users: [{', '.join(users)}]\n"
        )
        run = [sys.executable, "-m", "o2g_flows", "run", "--server", url, "--login", "admin"]
        run += ["--password", "admin", "--state", str(folder / "state.sqlite"), "--no-traffic"]
        run += ["--status", f"127.0.0.1:{status_port}"]
        started = time.perf_counter()
        with process(run, folder / "run.log", "", cwd=folder):
            state = 5 * args.users  # each user's state topics (discovery is elsewhere)
            while len(watcher.messages.get("o2g", [])) < state:
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            arrivals = watcher.messages["o2g"]
            span = arrivals[-1] - arrivals[0]
            async with httpx.AsyncClient() as http:
                status = f"http://127.0.0.1:{status_port}/api/status"
                total = (await http.get(status)).json()["services"]["mqtt"]["published"]
            print(
                f"bridge start, {args.users} users: {total} messages (discovery + state), "
                f"the last {elapsed:.1f} s after launch; the {len(arrivals)} state messages "
                f"reached the broker in {span:.2f} s = {len(arrivals) / span:,.0f} msg/s"
            )
            bridge_latency, bridge_rate, bridge_calls = await measure(
                "bridge", "o2g", url, args, watcher
            )
        script = [sys.executable, "-c", SCRIPT, url, str(mqtt_port), ",".join(users)]
        with process(script, folder / "script.log", "subscribed"):
            script_latency, script_rate, script_calls = await measure(
                "script", "script", url, args, watcher
            )
        for task in watching:
            task.cancel()
        await asyncio.gather(*watching, return_exceptions=True)

    def line(label: str, values: list[float]) -> str:
        return (
            f"  {label:<8} p50 {statistics.median(values):6.2f} ms   "
            f"p99 {percentile(values, 0.99):6.2f} ms   ({len(values)} calls)"
        )

    print(f"O2G event -> presence 'ringing' at the broker, {args.rate:g} calls/s:")
    print(line("bridge", bridge_latency))
    print(line("script", script_latency))
    ratio50 = statistics.median(bridge_latency) / statistics.median(script_latency)
    ratio99 = percentile(bridge_latency, 0.99) / percentile(script_latency, 0.99)
    print(f"  ratio bridge/script: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x")
    print(f"burst of {args.burst} calls (20 at a time), state messages/s at the broker:")
    print(f"  bridge {bridge_rate:,.0f} msg/s ({bridge_calls:.0f} calls/s placed)")
    print(f"  script {script_rate:,.0f} msg/s ({script_calls:.0f} calls/s placed)")
    print(f"  ratio bridge/script: {bridge_rate / script_rate:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
