"""Loop timers: every timer fires once, in deadline order, whatever the burst."""

from __future__ import annotations

import asyncio
import time

from o2g_flows.engine.timers import LoopTimers


async def test_a_burst_of_slow_timers_all_fire_and_later_ones_still_fire():
    # the APScheduler wake-up job re-armed from inside itself fired 3 of these 20, then none
    timers = LoopTimers()
    timers.start()
    fired: list[int] = []

    def slow(n: int) -> None:
        time.sleep(0.005)
        fired.append(n)

    now = time.time()
    for n in range(20):
        timers.call_at(now + 0.01 + n * 0.001, slow, n)
    async with asyncio.timeout(5):
        while len(fired) < 20:
            await asyncio.sleep(0.01)
    assert fired == list(range(20))
    later = asyncio.Event()
    timers.call_at(time.time() + 0.01, later.set)
    async with asyncio.timeout(5):
        await later.wait()
    timers.stop()


async def test_100000_timers_due_within_a_second_fire_once_each_in_deadline_order():
    timers = LoopTimers()
    timers.start()
    fired: list[float] = []
    start = time.time() + 0.2
    deadlines = [start + (n * 7919 % 100_000) / 100_000 for n in range(100_000)]
    for deadline in deadlines:
        timers.call_at(deadline, fired.append, deadline)
    async with asyncio.timeout(30):
        while len(fired) < len(deadlines):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.05)
    assert len(fired) == 100_000
    assert fired == sorted(deadlines)
    assert timers.pending() == 0
    timers.stop()


async def test_events_keep_flowing_during_a_burst():
    timers = LoopTimers(batch=1000)
    timers.start()
    fired = 0

    def count() -> None:
        nonlocal fired
        fired += 1

    now = time.time()
    for _ in range(20_000):
        timers.call_at(now, count)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while fired < 20_000:
            ticks += 1
            await asyncio.sleep(0)

    await asyncio.wait_for(ticker(), 30)
    assert fired == 20_000
    assert ticks >= 10  # the loop ran other work between batches
    timers.stop()


async def test_a_raising_callback_stops_no_other_timer(caplog):
    timers = LoopTimers()
    timers.start()
    fired: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    now = time.time()
    timers.call_at(now + 0.01, fired.append, "first")
    timers.call_at(now + 0.011, boom)
    timers.call_at(now + 0.012, fired.append, "third")
    async with asyncio.timeout(5):
        while len(fired) < 2:
            await asyncio.sleep(0.005)
    assert fired == ["first", "third"]
    assert "boom" in caplog.text
    timers.stop()


async def test_cancelled_timers_do_not_fire_and_a_timer_fires_once():
    timers = LoopTimers()
    timers.start()
    fired: list[int] = []
    now = time.time()
    handles = [timers.call_at(now + 0.02, fired.append, n) for n in range(3000)]
    for handle in handles[::2]:
        timers.cancel(handle)
    async with asyncio.timeout(5):
        while len(fired) < 1500:
            await asyncio.sleep(0.01)
    for handle in handles:  # cancelling a fired timer is harmless
        timers.cancel(handle)
    await asyncio.sleep(0.05)
    assert fired == list(range(1, 3000, 2))
    timers.stop()


async def test_timers_follow_the_monotonic_clock_when_the_wall_clock_steps():
    class SteppedClock:
        offset = 0.0

        def time(self) -> float:
            return time.time() + self.offset

    clock = SteppedClock()
    timers = LoopTimers(clock)  # type: ignore[arg-type]
    timers.start()
    fired = asyncio.Event()
    timers.call_at(clock.time() + 0.2, fired.set)
    clock.offset = 3600  # the clock is set an hour forward: the timer is not fired early
    await asyncio.sleep(0.05)
    assert not fired.is_set()
    clock.offset = -3600  # and back: it is not delayed by an hour either
    async with asyncio.timeout(2):
        await fired.wait()
    timers.stop()
