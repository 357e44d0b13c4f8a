"""Clocks and timers: real time on APScheduler, or virtual time for offline runs.

The engine only needs ``call_at`` and ``cancel``; keeping APScheduler behind this small
interface makes a later move (a durable job store, APScheduler 4) a local change. Timer
callbacks receive primitive arguments (flow, key, serial, visit, index) so a persistent
store could hold them.
"""

from __future__ import annotations

import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

__all__ = [
    "Clock",
    "SchedulerTimers",
    "SystemClock",
    "Timers",
    "VirtualClock",
    "VirtualTimers",
    "zone",
]


def zone(value: str | tzinfo | None) -> tzinfo:
    """A time zone from its name; None is the machine's local zone."""
    if value is None:
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    if isinstance(value, str):
        return ZoneInfo(value)
    return value


class Clock(ABC):
    """Where the engine reads the time (seconds since the epoch)."""

    @abstractmethod
    def time(self) -> float:
        """Seconds since the epoch."""


class SystemClock(Clock):
    """The machine's clock."""

    def time(self) -> float:
        return time.time()


class VirtualClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


class Timers(ABC):
    """Schedules callbacks at absolute times; handles cancel them."""

    @abstractmethod
    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Any:
        """Call ``callback(*args)`` at ``when`` (epoch seconds); returns a handle for ``cancel``."""

    @abstractmethod
    def cancel(self, handle: Any) -> None:
        """Drop a pending timer (a timer already fired or cancelled is ignored)."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Begin firing (called from the running event loop)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop firing; pending timers are dropped."""


async def _fire(callback: Callable[..., None], *args: Any) -> None:
    # a coroutine, so AsyncIOScheduler runs it on the event loop, not in a worker thread
    callback(*args)


class SchedulerTimers(Timers):
    """Timers on APScheduler 3 (``AsyncIOScheduler``, in-memory job store).

    Pending timers wait in a heap; APScheduler holds a single date job, armed for the
    earliest of them. With 10,000 live executions a job per timer costs ~1 KB and a
    signature check, a sorted-list insert and a removal per state change; a heap entry
    costs ~0.1 KB and O(log n). Cancelling marks the entry; the heap is compacted when
    cancelled entries outnumber live ones.
    """

    _JOB_ID = "o2g-flows-timers"

    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._heap: list[list[Any]] = []
        self._order = itertools.count()
        self._armed: float | None = None
        self._cancelled = 0

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()
        if self._heap:
            self._arm(self._heap[0][0])

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self._heap.clear()
        self._armed = None
        self._cancelled = 0

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Any:
        entry = [when, next(self._order), callback, args]
        heapq.heappush(self._heap, entry)
        if self._armed is None or when < self._armed:
            self._arm(when)
        return entry

    def cancel(self, handle: Any) -> None:
        if handle[2] is not None:
            handle[2] = None
            self._cancelled += 1
            if self._cancelled > 1000 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _arm(self, when: float) -> None:
        self._armed = when
        if self.scheduler.running:
            self.scheduler.add_job(
                _fire,
                "date",
                run_date=datetime.fromtimestamp(when, UTC),
                args=(self._wake,),
                id=self._JOB_ID,
                replace_existing=True,
            )

    def _wake(self) -> None:
        self._armed = None
        now = time.time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            callback = entry[2]
            if callback is None:
                self._cancelled -= 1
                continue
            entry[2] = None  # fired: a later cancel() (leaving the state) is not counted
            callback(*entry[3])
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        if heap and (self._armed is None or heap[0][0] < self._armed):
            self._arm(heap[0][0])


class VirtualTimers(Timers):
    """Timers on a ``VirtualClock``: ``fire_next`` moves the clock to the next one and fires it."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._heap: list[list[Any]] = []
        self._order = itertools.count()

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Any:
        entry = [when, next(self._order), callback, args, False]
        heapq.heappush(self._heap, entry)
        return entry

    def cancel(self, handle: Any) -> None:
        handle[4] = True

    def next_due(self) -> float | None:
        """When the earliest pending timer is due, or None."""
        while self._heap and self._heap[0][4]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def fire_next(self) -> None:
        """Move the clock to the earliest timer and fire it (no-op when none is pending)."""
        if self.next_due() is None:
            return
        when, _, callback, args, _ = heapq.heappop(self._heap)
        self.clock.now = max(self.clock.now, when)
        callback(*args)

    def stop(self) -> None:
        self._heap.clear()
