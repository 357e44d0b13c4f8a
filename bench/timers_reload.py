"""Time and change benchmark: hot reload latency, timer bursts, restore, the durable store.

Prints, in one run, on one core with no network:

1. reload: time from a flow file write to the new version handling events (watchfiles,
   debounce included); target <= 500 ms;
2. timers: 100,000 executions whose ``after`` timers fall due within one second, each
   firing a transition and a recorded action: timers armed and fired per second, and how
   late the firings are behind their deadlines (p50, p99, max);
3. restore: time and memory to read back 10,000 executions with their timers from a
   SQLite state file and arm them again; target <= 3 s;
4. store: the dispatch rate of calls through a machine (each call starts, is answered,
   ends; an action at each start), fed as the live event stream feeds it (a hundred
   events, then the loop runs), with the SQLite store, next to the same run with
   ``--state :memory:``; target >= 0.7 of it.

    python bench/timers_reload.py [--timers 100000] [--restore 10000] [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from o2g_flows.engine import Engine, Observer, RecordingGateway, load_flows, load_text
from o2g_flows.engine.reload import FlowWatcher
from o2g_flows.engine.state import Execution
from o2g_flows.engine.store import MemoryStore, SqliteStore, Store
from o2g_flows.engine.trace import TraceStore
from o2g_flows.plugins import Registry

RULE = """\
flow: greet
on: OnCallCreated
do: [{log: "%s"}]
"""

TIMED = """\
flow: timed
key: event.callRef
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {seconds: "${event.delay}", goto: voicemail}
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter: [{redirect: {to: VOICEMAIL}}]
    goto: end
"""

CALLS = """\
flow: calls
key: event.callRef
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  do: [{attach_data: {data: "${event.callRef}"}}]
  goto: ringing
states:
  ringing:
    after: {seconds: 30, goto: voicemail}
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}
      OnCallRemoved: {goto: end}
  answered:
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter: [{redirect: {to: VOICEMAIL}}]
    goto: end
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# -- 1. reload ------------------------------------------------------------------------------------


async def reload_latency(rounds: int = 10) -> list[float]:
    """Seconds from writing a new version of a flow to an event handled by it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "greet.yaml"
        path.write_text(RULE % "v0")
        engine = Engine(load_flows([folder]).flows, RecordingGateway())
        await engine.start()
        watcher = FlowWatcher(engine, [folder], registry=Registry.builtin())
        ready = asyncio.Event()
        task = asyncio.create_task(watcher.run(ready))
        await ready.wait()
        gateway = engine.gateway
        assert isinstance(gateway, RecordingGateway)
        latencies = []
        for n in range(1, rounds + 1):
            await asyncio.sleep(0.3)  # editors save now and then, not in a storm
            started = time.perf_counter()
            path.write_text(RULE % f"v{n}")
            while True:
                engine.dispatch({"eventName": "OnCallCreated", "callRef": f"c{n}"})
                await engine.idle()
                if engine.traces.query(flow="greet")[-1].actions()[0][3]["message"] == f"v{n}":
                    break
                await asyncio.sleep(0.002)
            latencies.append(time.perf_counter() - started)
        task.cancel()
        await engine.stop()
        return latencies


# -- 2. timers ------------------------------------------------------------------------------------


class Lateness(Observer):
    """How long after its deadline each ``after`` timer fired."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.late: list[float] = []

    def timer(self, at: float, execution: Execution, label: str) -> None:
        deadline = execution.deadlines[0] if execution.deadlines else None
        if deadline is not None:
            self.late.append(time.time() - deadline)


async def timer_burst(count: int) -> dict[str, float]:
    """``count`` executions whose timers all fall due within one second, once all are armed."""
    flows = load_text(TIMED, "timed.yaml").flows
    gateway = RecordingGateway()
    lateness = Lateness(None)
    engine = Engine(flows, gateway, observers=[lateness], traces=TraceStore(recent=100, failed=100))
    await engine.start()
    events = [{"eventName": "OnCallCreated", "callRef": f"t{n}"} for n in range(count)]
    gc.collect()
    started = time.time()
    due = started + 5.0  # the burst: every deadline within [due, due + 1 s)
    for n, event in enumerate(events):
        event["delay"] = due + (n % 1000) / 1000 - time.time()
        engine.dispatch(event)
    armed = time.time() - started
    while len(gateway.records) < count:
        await asyncio.sleep(0.01)
    await engine.idle()
    fired_for = time.time() - due
    await engine.stop()
    return {
        "armed/s": count / armed,
        "fired/s": count / max(fired_for, 1e-9),
        "p50": percentile(lateness.late, 0.5),
        "p99": percentile(lateness.late, 0.99),
        "max": max(lateness.late),
        "fired": len(lateness.late),
    }


async def bare_timers(count: int) -> float:
    """p99 lateness of ``count`` no-op timers due within one second (the mechanism alone)."""
    from o2g_flows.engine.timers import LoopTimers

    timers = LoopTimers()
    timers.start()
    late: list[float] = []
    due = time.time() + 0.5
    for n in range(count):
        deadline = due + (n % 1000) / 1000
        timers.call_at(deadline, lambda d=deadline: late.append(time.time() - d))
    while len(late) < count:
        await asyncio.sleep(0.01)
    timers.stop()
    return percentile(late, 0.99)


# -- 3. restore -----------------------------------------------------------------------------------


async def restore(count: int) -> dict[str, float]:
    """Seconds and bytes to restore ``count`` ringing executions with their timers."""
    flows = load_text(TIMED, "timed.yaml").flows
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state.sqlite"
        engine = Engine(flows, RecordingGateway(), store=SqliteStore(state))
        await engine.start()
        for n in range(count):
            engine.dispatch({"eventName": "OnCallCreated", "callRef": f"r{n}", "delay": 600})
        await engine.stop()
        size = state.stat().st_size  # the WAL is checkpointed into it at close
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        again = Engine(flows, RecordingGateway(), store=SqliteStore(state))
        await again.start()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        restored = len(again.executions())
        pending = again.timers.pending()  # type: ignore[attr-defined]
        await again.stop()
        return {
            "seconds": elapsed,
            "peak": peak,
            "restored": restored,
            "timers": pending,
            "file": size,
        }


# -- 4. the durable store -------------------------------------------------------------------------


def call_events(count: int) -> list[dict[str, Any]]:
    events = []
    for n in range(count):
        ref = f"s{n}"
        events.append(
            {
                "eventName": "OnCallCreated",
                "callRef": ref,
                "loginName": "alice",
                "legs": [{"deviceId": "2001", "state": "RINGING_INCOMING"}],
            }
        )
        events.append(
            {
                "eventName": "OnCallModified",
                "callRef": ref,
                "loginName": "alice",
                "modifiedLegs": [{"deviceId": "2001", "state": "ACTIVE"}],
            }
        )
        events.append({"eventName": "OnCallRemoved", "callRef": ref, "loginName": "alice"})
    # 1,000 calls at once, as in a busy contact centre: a call is answered while the next
    # thousand ring, and ends while the thousand after those are answered
    ordered: list[dict[str, Any]] = []
    overlap = 1000
    for n in range(count + 2 * overlap):
        for step in range(3):
            index = n - step * overlap
            if 0 <= index < count:
                ordered.append(events[index * 3 + step])
    return ordered


async def dispatch_rate(store: Store, events: list[dict[str, Any]]) -> float:
    flows = load_text(CALLS, "calls.yaml").flows
    gateway = RecordingGateway()
    engine = Engine(flows, gateway, store=store, traces=TraceStore(recent=100, failed=100))
    await engine.start()
    gc.collect()
    started = time.perf_counter()
    for chunk in range(0, len(events), 100):
        for event in events[chunk : chunk + 100]:
            engine.dispatch(event)
        await asyncio.sleep(0)  # as the live event stream does between two reads
    await engine.idle()
    elapsed = time.perf_counter() - started
    assert len(gateway.records) == len(events) // 3, len(gateway.records)
    await engine.stop()
    return len(events) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--restore", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=20_000)
    options = parser.parse_args()

    latencies = await reload_latency()
    print(
        f"reload, file write to new version handling events: median "
        f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"over {len(latencies)} edits (target <= 500 ms)"
    )

    burst = await timer_burst(options.timers)
    print(
        f"timers, {burst['fired']:,.0f} due within 1 s: armed {burst['armed/s']:,.0f}/s, "
        f"fired {burst['fired/s']:,.0f}/s; behind deadline p50 {burst['p50'] * 1000:.1f} ms, "
        f"p99 {burst['p99'] * 1000:.1f} ms, max {burst['max'] * 1000:.1f} ms"
    )

    bare = await bare_timers(options.timers)
    print(
        f"        the timers alone (no-op callbacks): p99 {bare * 1000:.1f} ms behind; the rest "
        "is the engine's work per firing (a transition, a stored write, an action)"
    )

    restored = await restore(options.restore)
    print(
        f"restore, {restored['restored']:,.0f} executions and {restored['timers']:,.0f} "
        f"timers: {restored['seconds']:.2f} s, peak {restored['peak'] / 2**20:.1f} MiB "
        f"(state file {restored['file'] / 2**20:.1f} MiB; target <= 3 s)"
    )

    events = call_events(options.calls)
    with tempfile.TemporaryDirectory() as folder:
        durable = await dispatch_rate(SqliteStore(Path(folder) / "state.sqlite"), events)
    memory = await dispatch_rate(MemoryStore(), events)
    print(
        f"store, {len(events):,} call events with an action per call: SQLite "
        f"{durable:,.0f} events/s, :memory: {memory:,.0f} events/s, ratio "
        f"{durable / memory:.2f} (target >= 0.7)"
    )


if __name__ == "__main__":
    asyncio.run(main())
