"""A simulator in a process of its own that publishes realistic call events on command.

    with EmitterProcess() as emitter:        # starts ``python bench/_emitter.py``
        url = emitter.url                    # log in, subscribe, open the channel...
        wall, cpu = emitter.emit(50_000, batch=1)

``emit(count, batch)`` makes the simulator's PBX publish ``count`` events of about 630 bytes
(an ``OnCallModified`` of a two-party call, as a gateway sends them), yielding to its event
loop after every ``batch`` events: ``batch=1`` paces them one at a time as a live PBX
trickles them, a large batch is a burst (the subscriptions' queues are enlarged to hold
it, so that a slower reader misses nothing). It answers with the simulator process's wall and
CPU seconds spent publishing. Used by ``client_events.py`` and ``sim_throughput.py``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def event(n: int) -> dict[str, Any]:
    """The ``n``-th event: its own call reference and serial."""
    return {**EVENT, "callRef": f"a6aaea5b2{n:07x}", "n": n}


class EmitterProcess:
    """``python bench/_emitter.py`` as a child process; ``url`` is its simulator's."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._process.stdout.readline().split()  # type: ignore[union-attr]
        if not ready or ready[0] != "ready":
            raise RuntimeError(f"the emitter did not start: {ready}")
        self.url = ready[1]

    def emit(self, count: int, batch: int = 1) -> tuple[float, float]:
        """Publish ``count`` events; the simulator's (wall, CPU) seconds doing it."""
        print(f"emit {count} {batch}", file=self._process.stdin, flush=True)
        _, wall, cpu = self._process.stdout.readline().split()  # type: ignore[union-attr]
        return float(wall), float(cpu)

    async def emit_async(self, count: int, batch: int = 1) -> tuple[float, float]:
        """``emit`` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.emit, count, batch)

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) the simulator process has used so far (Linux)."""
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> EmitterProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._process.stdin.close()  # type: ignore[union-attr]
        self._process.wait(10)


async def _serve() -> None:
    from o2g_flows.sim import Simulator

    timing = {"keepalive_interval": 30.0, "ring_timeout": 600.0}
    async with Simulator(timing=timing) as sim:
        print("ready", sim.url, flush=True)
        loop = asyncio.get_running_loop()
        events = [event(n) for n in range(1000)]
        emit = sim.pbx.emit
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            _, count, batch = line.split()
            count, batch = int(count), int(batch)
            hub = sim.gateway.hub  # type: ignore[union-attr]
            for entry in hub.snapshot():  # hold a whole burst: no reader misses an event
                hub.get(entry["subscriptionId"]).max_queue = count + 1000
            start, cpu = time.perf_counter(), time.process_time()
            for n in range(count):
                emit(events[n % 1000])
                if n % batch == batch - 1:
                    await asyncio.sleep(0)
            await asyncio.sleep(0)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            print("done", wall, cpu, flush=True)


if __name__ == "__main__":
    asyncio.run(_serve())
