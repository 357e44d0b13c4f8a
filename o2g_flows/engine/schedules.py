"""Schedules: when each flow's ``schedule:`` entries fire, armed on the engine's timers.

APScheduler's triggers (cron, interval, date) only compute due times; the firings go
through ``Timers.call_at``, each armed at most ``HORIZON`` seconds ahead and checked
against the wall clock again on waking, so a clock step neither repeats nor loses one.

Time rules (see docs/flows.md, "Schedules"):

- ``cron`` follows the wall clock of its time zone. An entry with a fixed hour (its hour
  field does not start with ``*``) fires once per matching local time: a time the
  spring-forward skips fires when the clock jumps (02:30 -> 03:00), a time the fall-back
  repeats fires at its first pass only. An entry whose hour field starts with ``*`` follows
  elapsed time: skipped times do not fire, repeated ones fire in both passes.
- ``every`` follows elapsed time from its first arming; ``at`` is a local time resolved
  like a fixed-hour cron time.
- Due times are never at or before the last one accounted for; several due times passed
  at once (a clock step forward, a slow wake) fire the latest once, with ``late`` set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .model import SCHEDULE_EVENT, Schedule
from .timers import Clock, Timers

__all__ = ["HORIZON", "DueTimes", "MemoryMarks", "ScheduleMarks", "Schedules", "local_time"]

log = logging.getLogger(__name__)

#: The longest a firing is armed ahead; the wall clock is read again on each wake.
HORIZON = 60.0
_TICK = timedelta(microseconds=1)
#: Windows looked back over for the latest due time before a moment (None: all the way).
_WINDOWS = (2.0, 60.0, 3600.0, 86400.0, 31 * 86400.0, 366 * 86400.0, None)


class ScheduleMarks(Protocol):
    """Where the latest due time accounted for is kept, per flow and schedule.

    A due time is accounted for once fired or reported missed; a schedule armed for the
    first time is marked with that moment, so a later restart catches up from there.
    """

    def last_fired(self, flow: str, name: str) -> float | None:
        """The latest due time accounted for, or None for a schedule never armed."""

    def fired(self, flow: str, name: str, at: float) -> None:
        """Record ``at`` as the latest due time accounted for."""


class MemoryMarks:
    """``ScheduleMarks`` kept in memory (lost at exit)."""

    def __init__(self) -> None:
        self._marks: dict[tuple[str, str], float] = {}

    def last_fired(self, flow: str, name: str) -> float | None:
        return self._marks.get((flow, name))

    def fired(self, flow: str, name: str, at: float) -> None:
        self._marks[(flow, name)] = at


def local_time(text: str, zone: tzinfo) -> datetime:
    """An ISO date-time; naive means in ``zone`` (a skipped time is the jump, a repeated
    one its first pass). Raises ``ValueError`` when malformed."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        return moment
    moment = moment.replace(tzinfo=zone)
    if _in_gap(moment):
        return datetime.fromtimestamp(_jump(moment), zone)
    return moment


def _in_gap(moment: datetime) -> bool:
    """True when the wall time of ``moment`` does not exist (skipped by a DST change)."""
    real = datetime.fromtimestamp(moment.timestamp(), moment.tzinfo)
    return real.replace(tzinfo=None) != moment.replace(tzinfo=None)


def _second_pass(moment: datetime) -> bool:
    """True when ``moment`` is the second pass of a wall time a DST change repeats."""
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    return first.utcoffset() != second.utcoffset() and moment.utcoffset() == second.utcoffset()


def _jump(moment: datetime) -> float:
    """The instant the clock jumps over the skipped wall time of ``moment``."""
    zone = moment.tzinfo
    low, high = sorted(moment.replace(fold=f).timestamp() for f in (0, 1))
    after = datetime.fromtimestamp(high, zone).utcoffset()
    lo, hi = int(low), int(high)
    while hi - lo > 1:  # offset(lo) is the old one, offset(hi) the new one
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return float(hi)


class DueTimes:
    """The due times (epoch seconds) of one timed entry (``cron``, ``every``, ``at``).

    ``anchor`` is when an ``every`` entry started counting (its first due time is one
    interval later).
    """

    def __init__(self, schedule: Schedule, zone: tzinfo, anchor: float) -> None:
        self.fixed_hour = False
        self.trigger: BaseTrigger
        if schedule.kind == "cron":
            self.trigger = CronTrigger.from_crontab(schedule.value, timezone=zone)
            self.fixed_hour = not schedule.value.split()[1].startswith("*")
        elif schedule.kind == "every":
            first = datetime.fromtimestamp(anchor + schedule.value, UTC)
            self.trigger = IntervalTrigger(seconds=schedule.value, start_date=first, timezone=UTC)
        elif schedule.kind == "at":
            self.trigger = DateTrigger(run_date=local_time(schedule.value, zone))
        else:
            raise ValueError(f"schedule {schedule.name!r}: {schedule.kind!r} has no due times")

    def after(self, moment: float) -> float | None:
        """The first due time strictly after ``moment``, or None when there is none."""
        probe = datetime.fromtimestamp(moment, UTC) + _TICK
        while True:
            due = self.trigger.get_next_fire_time(None, probe)
            if due is None:
                return None
            epoch = due.timestamp()
            if isinstance(self.trigger, DateTrigger):
                return epoch if epoch > moment else None
            if not isinstance(self.trigger, CronTrigger):
                return epoch
            if _in_gap(due):
                jump = _jump(due)
                if self.fixed_hour:
                    return jump
                probe = datetime.fromtimestamp(jump, UTC)  # the first slot after the gap
            elif self.fixed_hour and _second_pass(due):
                probe = datetime.fromtimestamp(epoch, UTC) + _TICK
            else:
                return epoch

    def latest(self, until: float, since: float) -> float | None:
        """The latest due time in ``(since, until]``, or None."""
        for window in _WINDOWS:
            start = since if window is None else max(since, until - window)
            due = self.after(start)
            if due is None or due > until:
                if start == since:
                    return None
                continue
            while (following := self.after(due)) is not None and following <= until:
                due = following
            return due
        return None


@dataclass(slots=True, eq=False)
class _Entry:
    flow: str
    schedule: Schedule
    zone: tzinfo
    times: DueTimes | None  # None: a ``start`` entry
    last: float  # the latest due time accounted for
    due: float | None = None
    handle: Any = None


class Schedules:
    """Fires the schedules of the loaded flows: ``deliver(flow, event)`` at each due time.

    ``marks`` keeps the latest due time accounted for per schedule (in memory when not
    given); at ``add``, the latest due time missed since then (while this process was not
    running the schedule) fires at once if no more than ``grace`` seconds ago, else
    ``missed(flow, name, due)`` is called instead. ``timezone`` is the zone of entries that
    name none; ``horizon`` is how far ahead a firing is armed at most (the wall clock is read
    again on waking; offline runs on a virtual clock may pass ``math.inf``).
    """

    def __init__(
        self,
        timers: Timers,
        clock: Clock,
        deliver: Callable[[str, dict[str, Any]], None],
        *,
        marks: ScheduleMarks | None = None,
        grace: float = 300.0,
        timezone: tzinfo,
        missed: Callable[[str, str, float], None] | None = None,
        horizon: float = HORIZON,
    ) -> None:
        self.timers = timers
        self.clock = clock
        self.deliver = deliver
        self.marks: ScheduleMarks = marks if marks is not None else MemoryMarks()
        self.grace = grace
        self.timezone = timezone
        self.missed = missed
        self.horizon = horizon
        self._flows: dict[str, list[_Entry]] = {}
        #: when this process stopped running a schedule (a reload's remove): nothing before
        #: that is caught up, so a reload never fires or reports a firing again
        self._stopped: dict[tuple[str, str], float] = {}

    def add(self, flow: str, schedules: list[Schedule], *, loaded: bool = True) -> None:
        """Arm ``flow``'s schedules (replacing any it had); ``start`` entries fire when
        ``loaded`` (the engine starts, or the flow was loaded or reloaded)."""
        self.remove(flow)
        now = self.clock.time()
        entries = []
        for schedule in schedules:
            zone = ZoneInfo(schedule.timezone) if schedule.timezone else self.timezone
            if schedule.kind == "start":
                if loaded:
                    entries.append(_Entry(flow, schedule, zone, None, now, now))
                continue
            anchor = self.marks.last_fired(flow, schedule.name)
            if anchor is None:
                anchor = now
                self.marks.fired(flow, schedule.name, now)
            since = max(anchor, self._stopped.get((flow, schedule.name), anchor))
            entry = _Entry(flow, schedule, zone, DueTimes(schedule, zone, anchor), since)
            entry.due = self._catch_up(entry, now)
            if entry.due is None:
                entry.due = self._next(entry, now)
            entries.append(entry)
        self._flows[flow] = entries
        for entry in entries:
            self._arm(entry, now)

    def remove(self, flow: str) -> None:
        """Stop ``flow``'s schedules (their marks stay)."""
        now = self.clock.time()
        for entry in self._flows.pop(flow, ()):
            self._stopped[(flow, entry.schedule.name)] = max(now, entry.last)
            entry.due = None
            if entry.handle is not None:
                self.timers.cancel(entry.handle)
                entry.handle = None

    def upcoming(self) -> list[tuple[str, str, float]]:
        """``(flow, schedule, due epoch)`` of every pending firing, soonest first."""
        found = [
            (entry.flow, entry.schedule.name, entry.due)
            for entries in self._flows.values()
            for entry in entries
            if entry.due is not None
        ]
        return sorted(found, key=lambda item: (item[2], item[0], item[1]))

    def stop(self) -> None:
        """Stop every schedule."""
        for flow in list(self._flows):
            self.remove(flow)

    # -- internals ----------------------------------------------------------------------------

    def _catch_up(self, entry: _Entry, now: float) -> float | None:
        """The due time missed while stopped to fire at once, if within the grace."""
        assert entry.times is not None
        due = entry.times.latest(now, entry.last)
        if due is None:
            return None
        if now - due <= self.grace:
            return due
        entry.last = due
        self.marks.fired(entry.flow, entry.schedule.name, due)
        if self.missed is not None:
            self.missed(entry.flow, entry.schedule.name, due)
        else:
            log.warning(
                "%s: schedule %s missed at %s (beyond the %gs grace)",
                entry.flow,
                entry.schedule.name,
                datetime.fromtimestamp(due, entry.zone).isoformat(),
                self.grace,
            )
        return None

    def _next(self, entry: _Entry, now: float) -> float | None:
        assert entry.times is not None
        return entry.times.after(max(entry.last, now))

    def _arm(self, entry: _Entry, now: float) -> None:
        if entry.due is not None:
            wake = min(entry.due, now + self.horizon)
            entry.handle = self.timers.call_at(wake, self._wake, entry)

    def _wake(self, entry: _Entry) -> None:
        entry.handle = None
        due = entry.due
        if due is None:  # removed
            return
        now = self.clock.time()
        if now < due:  # armed ahead of time, or the clock was set back
            self._arm(entry, now)
            return
        if entry.times is None:
            entry.due = None
        else:
            latest = entry.times.latest(now, entry.last)
            due = due if latest is None else latest
            entry.last = due
            self.marks.fired(entry.flow, entry.schedule.name, due)
            entry.due = self._next(entry, now)
            self._arm(entry, now)
        self.deliver(entry.flow, self._event(entry, due, now))

    def _event(self, entry: _Entry, due: float, now: float) -> dict[str, Any]:
        return {
            "eventName": SCHEDULE_EVENT,
            "flow": entry.flow,
            "schedule": entry.schedule.name,
            "time": datetime.fromtimestamp(due, entry.zone).isoformat(),
            "scheduled": due,
            "late": max(0, int(now - due)),
        }
