"""Clocks and timers: real time on the event loop, or virtual time for offline runs.

The engine needs only ``call_at`` (epoch seconds) and ``cancel``. A timer's identity is
its callback's arguments (flow, execution, state visit, timer index): the engine keeps
deadlines in its store and arms them again after a restart.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "Clock",
    "LoopTimers",
    "SystemClock",
    "Timers",
    "VirtualClock",
    "VirtualTimers",
    "zone",
]

log = logging.getLogger("o2g_flows.engine")


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

    # the builtin itself: the engine reads the clock several times per event
    time = staticmethod(time.time)  # type: ignore[assignment]


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


class LoopTimers(Timers):
    """Timers on the asyncio event loop: a heap of deadlines and one ``loop.call_at``.

    Deadlines are given in epoch seconds (``Clock.time``) and kept on the monotonic clock,
    so setting the machine's clock back or forward neither fires a timer twice nor loses
    it. Only the loop callback that fires timers re-arms the next one, never a timer's own
    callback from inside a scheduler run. A burst of due timers fires in deadline order,
    ``batch`` per turn of the loop so that events keep flowing in between; a callback that
    raises is logged and the others fire. Cancelling marks the entry (O(1)); the heap is
    compacted when cancelled entries outnumber live ones.
    """

    def __init__(self, clock: Clock | None = None, batch: int = 1000) -> None:
        self.clock = clock or SystemClock()
        self.batch = batch
        self._heap: list[list[Any]] = []
        self._order = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._armed: float | None = None  # monotonic time of the pending wake-up
        self._cancelled = 0
        self._offset = time.monotonic() - self.clock.time()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._heap:
            self._arm(self._heap[0][0])

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._armed = self._loop = None
        self._heap.clear()
        self._cancelled = 0

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Any:
        # one offset between the clocks, so that deadlines keep their order exactly; taken
        # again only when the wall clock was stepped
        offset = time.monotonic() - self.clock.time()
        if abs(offset - self._offset) > 0.5:
            self._offset = offset
        due = when + self._offset
        entry = [due, next(self._order), callback, args]
        heapq.heappush(self._heap, entry)
        if self._loop is not None and (self._armed is None or due < self._armed):
            self._arm(due)
        return entry

    def cancel(self, handle: Any) -> None:
        if handle[2] is not None:
            handle[2] = None
            self._cancelled += 1
            if self._cancelled > 1000 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def pending(self) -> int:
        """How many timers wait to fire."""
        return len(self._heap) - self._cancelled

    def _arm(self, due: float) -> None:
        assert self._loop is not None
        if self._handle is not None:
            self._handle.cancel()
        self._armed = due
        self._handle = self._loop.call_at(due, self._wake)

    def _wake(self) -> None:
        self._handle = self._armed = None
        now = time.monotonic()
        heap = self._heap
        fired = 0
        while heap and heap[0][0] <= now and fired < self.batch:
            entry = heapq.heappop(heap)
            callback = entry[2]
            if callback is None:
                self._cancelled -= 1
                continue
            entry[2] = None  # fired: a later cancel() (leaving the state) is not counted
            fired += 1
            try:
                callback(*entry[3])
            except Exception:
                log.exception("timer callback %r failed", callback)
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        if heap and self._loop is not None and (self._armed is None or heap[0][0] < self._armed):
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

    def pending(self) -> int:
        """How many timers wait to fire."""
        return sum(1 for entry in self._heap if not entry[4])

    def stop(self) -> None:
        self._heap.clear()
