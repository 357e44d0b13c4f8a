"""Schedules on virtual clocks: each trigger kind, missed firings, clock steps, DST days."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from o2g_flows._yaml import Location
from o2g_flows.engine.model import Schedule
from o2g_flows.engine.schedules import HORIZON, MemoryMarks, Schedules
from o2g_flows.engine.timers import Timers, VirtualClock, VirtualTimers

PARIS = ZoneInfo("Europe/Paris")
HERE = Location("flow.yaml", 1, 1)


def paris(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def entry(name: str, kind: str, value: Any, timezone: str | None = None) -> Schedule:
    return Schedule(name, kind, value, HERE, timezone)


class SteppedTimers(Timers):
    """Timers on elapsed time, as an event loop's are, beside a wall clock one can set."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.elapsed = 0.0
        self._heap: list[list[Any]] = []
        self._order = itertools.count()

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Any:
        deadline = self.elapsed + max(0.0, when - self.clock.now)
        entry = [deadline, next(self._order), callback, args, False]
        heapq.heappush(self._heap, entry)
        return entry

    def cancel(self, handle: Any) -> None:
        handle[4] = True

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (wall clock and elapsed time alike), firing what falls due."""
        target = self.elapsed + seconds
        while self._heap and self._heap[0][0] <= target:
            deadline, _, callback, args, cancelled = heapq.heappop(self._heap)
            if cancelled:
                continue
            self.clock.now += deadline - self.elapsed
            self.elapsed = deadline
            callback(*args)
        self.clock.now += target - self.elapsed
        self.elapsed = target


class Run:
    """Schedules on a virtual clock, recording what they deliver and report missed."""

    def __init__(self, start: str, marks: MemoryMarks | None = None, stepped: bool = False):
        self.clock = VirtualClock(paris(start))
        self.timers: Any = SteppedTimers(self.clock) if stepped else VirtualTimers(self.clock)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.missed: list[tuple[str, str, float]] = []
        self.marks = marks if marks is not None else MemoryMarks()
        self.schedules = Schedules(
            self.timers,
            self.clock,
            lambda flow, event: self.events.append((flow, event)),
            marks=self.marks,
            timezone=PARIS,
            missed=lambda *args: self.missed.append(args),
        )

    def until(self, text: str) -> None:
        end = paris(text)
        while (due := self.timers.next_due()) is not None and due <= end:
            self.timers.fire_next()
        self.clock.now = max(self.clock.now, end)

    def times(self) -> list[str]:
        return [event["time"] for _, event in self.events]


def test_a_cron_entry_fires_at_its_local_times_with_its_event():
    run = Run("2025-01-03T10:00:00")  # a Friday
    run.schedules.add("after-hours", [entry("evening", "cron", "0 18 * * mon-fri")])
    run.until("2025-01-07T12:00:00")
    assert run.times() == ["2025-01-03T18:00:00+01:00", "2025-01-06T18:00:00+01:00"]
    assert run.events[0] == (
        "after-hours",
        {
            "eventName": "OnSchedule",
            "flow": "after-hours",
            "schedule": "evening",
            "time": "2025-01-03T18:00:00+01:00",
            "scheduled": paris("2025-01-03T18:00:00"),
            "late": 0,
        },
    )
    assert run.schedules.upcoming() == [("after-hours", "evening", paris("2025-01-07T18:00:00"))]


def test_an_entry_follows_its_own_time_zone():
    run = Run("2025-01-06T00:00:00")
    run.schedules.add("f", [entry("ny", "cron", "0 9 * * *", "America/New_York")])
    run.until("2025-01-07T00:00:00")
    assert run.times() == ["2025-01-06T09:00:00-05:00"]
    assert run.events[0][1]["scheduled"] == paris("2025-01-06T15:00:00")


def test_every_fires_by_elapsed_time_from_its_first_arming():
    run = Run("2025-01-06T10:00:05")
    run.schedules.add("f", [entry("poll", "every", 600.0)])
    run.until("2025-01-06T10:35:00")
    assert run.times() == [
        "2025-01-06T10:10:05+01:00",
        "2025-01-06T10:20:05+01:00",
        "2025-01-06T10:30:05+01:00",
    ]


def test_at_fires_once_and_a_past_at_never():
    run = Run("2025-01-06T10:00:00")
    run.schedules.add(
        "f",
        [
            entry("once", "at", "2025-01-06T12:00:00"),
            entry("gone", "at", "2025-01-06T09:00:00"),
            entry("utc", "at", "2025-01-06T12:30:00+00:00"),
        ],
    )
    run.until("2025-01-08T00:00:00")
    assert [(e["schedule"], e["time"]) for _, e in run.events] == [
        ("once", "2025-01-06T12:00:00+01:00"),
        ("utc", "2025-01-06T13:30:00+01:00"),
    ]
    assert run.schedules.upcoming() == []


def test_start_fires_once_when_loaded_and_not_otherwise():
    run = Run("2025-01-06T10:00:00")
    run.schedules.add("f", [entry("boot", "start", True)])
    run.schedules.add("g", [entry("boot", "start", True)], loaded=False)
    run.until("2025-01-07T00:00:00")
    assert [(flow, e["schedule"], e["late"]) for flow, e in run.events] == [("f", "boot", 0)]
    assert run.events[0][1]["time"] == "2025-01-06T10:00:00+01:00"


def test_remove_cancels_pending_firings_and_add_replaces():
    run = Run("2025-01-06T10:00:00")
    run.schedules.add("f", [entry("a", "cron", "0 11 * * *"), entry("b", "start", True)])
    run.schedules.add("g", [entry("c", "cron", "30 10 * * *")])
    assert [name for _, name, _ in run.schedules.upcoming()] == ["b", "c", "a"]
    run.schedules.remove("f")
    run.schedules.add("g", [entry("d", "cron", "45 10 * * *")])
    run.until("2025-01-06T12:00:00")
    assert [(flow, e["schedule"]) for flow, e in run.events] == [("g", "d")]
    run.schedules.stop()
    assert run.schedules.upcoming() == []


def test_a_delivery_that_raises_does_not_stop_the_schedule():
    clock = VirtualClock(paris("2025-01-06T10:00:00"))
    timers = VirtualTimers(clock)
    seen: list[str] = []

    def deliver(flow: str, event: dict[str, Any]) -> None:
        seen.append(event["time"])
        raise RuntimeError("boom")

    schedules = Schedules(timers, clock, deliver, timezone=PARIS)
    schedules.add("f", [entry("tick", "every", 60.0)])
    for _ in range(2):
        with pytest.raises(RuntimeError):
            timers.fire_next()
    assert seen == ["2025-01-06T10:01:00+01:00", "2025-01-06T10:02:00+01:00"]


# -- missed while stopped -------------------------------------------------------------------------


def test_a_firing_missed_within_the_grace_fires_at_once_late():
    marks = MemoryMarks()
    marks.fired("f", "evening", paris("2025-01-05T18:00:00"))
    run = Run("2025-01-06T18:03:00", marks)
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    run.until("2025-01-07T19:00:00")
    assert [(e["time"], e["late"]) for _, e in run.events] == [
        ("2025-01-06T18:00:00+01:00", 180),
        ("2025-01-07T18:00:00+01:00", 0),
    ]
    assert run.missed == []
    assert marks.last_fired("f", "evening") == paris("2025-01-07T18:00:00")


def test_a_firing_missed_beyond_the_grace_is_reported_not_delivered():
    marks = MemoryMarks()
    marks.fired("f", "evening", paris("2025-01-03T18:00:00"))
    run = Run("2025-01-06T18:06:00", marks)
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    run.until("2025-01-07T12:00:00")
    assert run.events == []
    assert run.missed == [("f", "evening", paris("2025-01-06T18:00:00"))]  # the latest only
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])  # a reload: no repeat
    assert run.missed == [("f", "evening", paris("2025-01-06T18:00:00"))]
    run.until("2025-01-07T18:00:00")
    assert run.times() == ["2025-01-07T18:00:00+01:00"]


def test_a_schedule_without_a_mark_starts_from_now_and_is_marked():
    run = Run("2025-01-06T18:01:00")
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    assert run.events == [] and run.missed == []
    assert run.marks.last_fired("f", "evening") == paris("2025-01-06T18:01:00")
    assert run.schedules.upcoming() == [("f", "evening", paris("2025-01-07T18:00:00"))]


def test_a_restart_keeps_the_cadence_of_every_and_catches_up_within_the_grace():
    first = Run("2025-01-06T10:00:00")
    first.schedules.add("f", [entry("hourly", "every", 3600.0)])
    first.until("2025-01-06T11:30:00")
    first.schedules.stop()
    assert first.times() == ["2025-01-06T11:00:00+01:00"]
    second = Run("2025-01-06T12:02:00", first.marks)  # down over 12:00
    second.schedules.add("f", [entry("hourly", "every", 3600.0)])
    second.until("2025-01-06T13:30:00")
    assert [(e["time"], e["late"]) for _, e in second.events] == [
        ("2025-01-06T12:00:00+01:00", 120),
        ("2025-01-06T13:00:00+01:00", 0),
    ]


def test_a_reload_keeps_the_cadence_and_neither_fires_nor_reports_past_times():
    run = Run("2025-01-06T10:00:00")
    run.schedules.add(
        "f", [entry("hourly", "every", 3600.0), entry("evening", "cron", "0 18 * * *")]
    )
    run.until("2025-01-06T17:30:00")
    run.schedules.add(
        "f", [entry("hourly", "every", 3600.0), entry("evening", "cron", "0 17 * * *")]
    )
    run.until("2025-01-06T19:30:00")
    assert [e["time"][11:16] for _, e in run.events if e["schedule"] == "hourly"] == [
        f"{hour}:00" for hour in range(11, 20)
    ]
    assert [e["time"] for _, e in run.events if e["schedule"] == "evening"] == []
    assert run.missed == []


def test_with_an_infinite_horizon_a_firing_is_armed_for_its_due_time():
    clock = VirtualClock(paris("2025-01-06T10:00:00"))
    timers = VirtualTimers(clock)
    schedules = Schedules(timers, clock, lambda flow, event: None, timezone=PARIS, horizon=math.inf)
    schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    assert timers.next_due() == paris("2025-01-06T18:00:00")


def test_a_mark_in_the_future_fires_nothing_until_past_it():
    marks = MemoryMarks()
    marks.fired("f", "evening", paris("2025-01-06T18:00:00"))
    run = Run("2025-01-06T17:00:00", marks)  # the clock went back while stopped
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    run.until("2025-01-06T23:00:00")
    assert run.events == []
    assert run.schedules.upcoming() == [("f", "evening", paris("2025-01-07T18:00:00"))]


# -- clock steps ----------------------------------------------------------------------------------


def test_a_clock_set_back_after_a_firing_does_not_fire_it_again():
    run = Run("2025-01-06T17:50:00", stepped=True)
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    run.timers.advance(11 * 60)
    assert run.times() == ["2025-01-06T18:00:00+01:00"]
    run.clock.now -= 3600  # 17:01 again
    run.timers.advance(3 * 3600)
    assert len(run.events) == 1
    run.timers.advance(22 * 3600)
    assert run.times() == ["2025-01-06T18:00:00+01:00", "2025-01-07T18:00:00+01:00"]


def test_a_clock_set_back_before_a_firing_fires_it_when_the_wall_clock_gets_there():
    run = Run("2025-01-06T17:59:00", stepped=True)
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    run.clock.now -= 3600  # 16:59
    run.timers.advance(60 * 60)  # 17:59 on the wall
    assert run.events == []
    run.timers.advance(HORIZON + 1)
    assert [(e["time"], e["late"]) for _, e in run.events] == [("2025-01-06T18:00:00+01:00", 0)]


def test_a_clock_set_forward_over_firings_fires_the_latest_once_late():
    run = Run("2025-01-06T17:30:00", stepped=True)
    run.schedules.add("f", [entry("evening", "cron", "0 18 * * *")])
    run.schedules.add("g", [entry("minute", "cron", "* * * * *")])
    run.timers.advance(90)
    assert [e["time"] for flow, e in run.events if flow == "g"] == ["2025-01-06T17:31:00+01:00"]
    run.events.clear()
    run.clock.now += 3600  # 17:31:30 -> 18:31:30
    run.timers.advance(HORIZON)
    assert sorted((flow, e["time"], e["late"]) for flow, e in run.events) == [
        ("f", "2025-01-06T18:00:00+01:00", 1920),
        ("g", "2025-01-06T18:32:00+01:00", 0),
    ]


# -- daylight saving ------------------------------------------------------------------------------


def test_spring_forward_a_fixed_time_in_the_skipped_hour_fires_once_at_the_jump():
    run = Run("2025-03-29T00:00:00")  # Europe/Paris skips 02:00-03:00 on 30 March 2025
    run.schedules.add("f", [entry("night", "cron", "30 2 * * *")])
    run.schedules.add("g", [entry("once", "at", "2025-03-30T02:15:00")])
    run.until("2025-03-31T23:00:00")
    assert [(flow, e["time"]) for flow, e in run.events] == [
        ("f", "2025-03-29T02:30:00+01:00"),
        ("f", "2025-03-30T03:00:00+02:00"),
        ("g", "2025-03-30T03:00:00+02:00"),
        ("f", "2025-03-31T02:30:00+02:00"),
    ]


def test_spring_forward_an_every_hour_cron_skips_the_missing_hour():
    run = Run("2025-03-30T01:10:00")
    run.schedules.add("f", [entry("half", "cron", "*/30 * * * *")])
    run.until("2025-03-30T03:45:00")
    assert run.times() == [
        "2025-03-30T01:30:00+01:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T03:30:00+02:00",
    ]


def test_fall_back_a_fixed_time_in_the_repeated_hour_fires_once():
    run = Run("2025-10-25T00:00:00")  # Europe/Paris repeats 02:00-03:00 on 26 October 2025
    run.schedules.add("f", [entry("night", "cron", "30 2 * * *")])
    run.schedules.add("g", [entry("early", "cron", "30 1 * * *")])
    run.until("2025-10-27T23:00:00")
    assert [(flow, e["time"]) for flow, e in run.events] == [
        ("g", "2025-10-25T01:30:00+02:00"),
        ("f", "2025-10-25T02:30:00+02:00"),
        ("g", "2025-10-26T01:30:00+02:00"),
        ("f", "2025-10-26T02:30:00+02:00"),
        ("g", "2025-10-27T01:30:00+01:00"),
        ("f", "2025-10-27T02:30:00+01:00"),
    ]


def test_fall_back_an_every_hour_cron_fires_in_both_passes():
    run = Run("2025-10-26T01:50:00")
    run.schedules.add("f", [entry("half", "cron", "*/30 * * * *")])
    run.until("2025-10-26T03:10:00")
    assert run.times() == [
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:30:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T02:30:00+01:00",
        "2025-10-26T03:00:00+01:00",
    ]
    scheduled = [e["scheduled"] for _, e in run.events]
    assert scheduled == sorted(scheduled) and len(set(scheduled)) == 5


def test_every_crosses_a_dst_change_by_elapsed_time():
    run = Run("2025-03-30T00:00:00")
    run.schedules.add("f", [entry("hourly", "every", 3600.0)])
    run.until("2025-03-30T04:00:00")
    assert run.times() == [
        "2025-03-30T01:00:00+01:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T04:00:00+02:00",
    ]
    assert datetime.fromtimestamp(run.events[1][1]["scheduled"], UTC).hour == 1
