"""Offline runs: a flow's ``tests:`` and replays of recorded event logs, on a virtual clock.

Nothing is sent: a ``RecordingGateway`` records every request, timers fire when the
virtual clock reaches them, and a test compares the actions taken with those expected,
printing a diff and, when a start condition was false, why nothing started.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .._yaml import Location
from .expressions import format_value
from .gateway import RecordingGateway
from .model import END, Expect, Flow, TestCase
from .observer import Observer
from .registry import Registry
from .runtime import Engine
from .state import Execution
from .timers import VirtualClock, VirtualTimers, zone
from .trace import TraceStore

__all__ = [
    "DEFAULT_START",
    "ActionRecord",
    "OfflineEngine",
    "Recorder",
    "ReplayReport",
    "TestResult",
    "replay",
    "run_case",
    "run_tests",
]

DEFAULT_START = "2025-01-06T10:00:00"  # a Monday morning
#: How long a test of a flow with a ``schedule`` runs after its last event, without ``until``.
SCHEDULED_DAY = 86_400.0
_MAX_TIMER_FIRINGS = 10_000


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """An action an offline run took (``at`` in seconds from the start)."""

    at: float
    flow: str
    key: Any
    action: str
    args: dict[str, Any]
    ok: bool

    def line(self, only: Iterable[str] | None = None, timed: bool = True) -> str:
        """``20s redirect call=c1 to=3000``, showing only the ``only`` arguments if given."""
        shown = {k: v for k, v in self.args.items() if only is None or k in only}
        text = " ".join(f"{k}={format_value(v)}" for k, v in shown.items() if v is not None)
        status = "" if self.ok else " (failed)"
        when = f"{_seconds(self.at)} " if timed else ""
        return f"{when}{self.action} {text}".rstrip() + status


class Recorder(Observer):
    """An observer keeping every action an engine ran and every start condition found false."""

    def __init__(self) -> None:
        self.actions: list[tuple[float, Execution, str, dict[str, Any], bool]] = []
        self.misses: list[tuple[float, str, str, Any, str, Any]] = []
        self.reasons: list[tuple[float, str]] = []  # drops and skipped actions, with why

    def action(
        self,
        at: float,
        execution: Execution,
        name: str,
        args: dict[str, Any],
        ok: bool,
        result: Any,
        ms: float,
    ) -> None:
        self.actions.append((at, execution, name, args, ok))

    def missed(self, at: float, flow: str, event: str, key: Any, source: str, value: Any) -> None:
        self.misses.append((at, flow, event, key, source, value))

    def dropped(self, at: float, flow: str, event: dict[str, Any], reason: str) -> None:
        self.reasons.append((at, f"{event.get('eventName')} dropped by {flow}: {reason}"))

    def skipped(self, at: float, execution: Execution, name: str, reason: str) -> None:
        self.reasons.append((at, f"{name} for {execution.key} not run: {reason}"))

    def records(self, start_at: float) -> list[ActionRecord]:
        """The actions, ``at`` counted from ``start_at``."""
        return [
            ActionRecord(t - start_at, execution.flow, execution.key, name, args, ok)
            for t, execution, name, args, ok in self.actions
        ]


class OfflineEngine:
    """An engine on a virtual clock whose actions are recorded, not sent.

    The harness of ``tests:`` and replays, public for testing flows and plugins from Python::

        run = OfflineEngine(load_text(TEXT).flows, timezone="UTC")
        await run.send("OnCallCreated", callRef="c1", loginName="alice")
        await run.advance(20)
        assert run.names() == ["redirect"]

    ``failures`` maps ``service.method`` (or an action name) to the error it should raise;
    other keyword arguments go to ``Engine``.
    """

    def __init__(
        self,
        flows: Iterable[Flow],
        registry: Registry | None = None,
        *,
        start: float | None = None,
        clock: VirtualClock | None = None,
        failures: dict[str, str] | None = None,
        observers: Iterable[Observer] = (),
        **options: Any,
    ) -> None:
        if clock is not None:  # engines restarted on one timeline share it
            start = clock.now
        self.start_at = _start_time(None, options.get("timezone")) if start is None else start
        self.clock = clock or VirtualClock(self.start_at)
        self.timers = VirtualTimers(self.clock)
        self.gateway = RecordingGateway(self.clock, failures or {})
        self.recorder = Recorder()
        self.engine = Engine(
            flows,
            self.gateway,
            registry=registry,
            clock=self.clock,
            timers=self.timers,
            observers=[self.recorder, *observers],
            **options,
        )

    async def send(self, event_name: str, **fields: Any) -> None:
        """Dispatch an event now and let the actions it causes run."""
        await self.feed({"eventName": event_name, **fields})

    async def feed(self, event: dict[str, Any], at: float | None = None) -> None:
        """Move the clock to ``at`` (firing timers), then dispatch ``event`` and let the
        actions it causes run; the recording gateway sees it first, to answer guards."""
        if at is not None:
            await self.run_until(at)
        self.gateway.observe(event)
        self.engine.dispatch(event)
        await self.engine.idle()

    async def advance(self, seconds: float) -> None:
        """Move the virtual clock by ``seconds``, firing the timers that come due."""
        await self.run_until(self.clock.now + seconds)

    async def run_until(self, until: float | None) -> None:
        """Fire the timers due by the time ``until`` (all of them when None), in order."""
        await self.engine.idle()  # what is under way first (a restored plan, a start)
        for _ in range(_MAX_TIMER_FIRINGS):
            due = self.timers.next_due()
            if due is None or (until is not None and due > until):
                break
            self.timers.fire_next()
            await self.engine.idle()
        if until is not None:
            self.clock.now = max(self.clock.now, until)

    @property
    def actions(self) -> list[tuple[str, dict[str, Any]]]:
        """``(action, args)`` of every action run, in order."""
        return [(name, args) for _, _, name, args, _ in self.recorder.actions]

    def names(self) -> list[str]:
        """The names of the actions run, in order."""
        return [name for name, _ in self.actions]

    def sent(self) -> list[tuple[str, dict[str, Any]]]:
        """``(client method, kwargs)`` the gateway would have sent."""
        return [(record.method, record.kwargs) for record in self.gateway.records]

    def records(self) -> list[ActionRecord]:
        """The actions run, ``at`` counted from the start."""
        return self.recorder.records(self.start_at)


@dataclass
class TestResult:
    """The outcome of one flow test: what went wrong, and the actions taken."""

    flow: str
    name: str
    location: Location
    passed: bool
    problems: list[str] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)

    def report(self) -> str:
        """``PASS``/``FAIL`` with the test's place, then each problem indented."""
        head = f"{'PASS' if self.passed else 'FAIL'} {self.location} {self.flow}: {self.name}"
        return "\n".join([head, *("    " + line for p in self.problems for line in p.splitlines())])


@dataclass
class ReplayReport:
    """What a replay fed and what the flows would have done."""

    events: int = 0
    actions: list[ActionRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def report(self) -> str:
        """One line per action, the log's errors, and a count."""
        lines = [f"{record.line()}  [{record.flow} {record.key}]" for record in self.actions]
        lines.extend(self.errors)
        lines.append(
            f"{self.events} events replayed, {len(self.actions)} actions would have been taken"
        )
        return "\n".join(lines)


async def run_tests(
    flows: Iterable[Flow], registry: Registry | None = None, timezone: str | None = None
) -> list[TestResult]:
    """Run the ``tests:`` of every flow; each test gets a fresh engine."""
    results = []
    for flow in flows:
        for case in flow.tests:
            results.append(await run_case(flow, case, registry, timezone))
    return results


async def run_case(
    flow: Flow, case: TestCase, registry: Registry | None = None, timezone: str | None = None
) -> TestResult:
    """Run one test of ``flow`` on a virtual clock and compare what it did."""
    if case.vars:
        flow = dataclasses.replace(flow, vars={**flow.vars, **case.vars})
    start_at = _start_time(case.start, timezone)
    failures = {item["match"]: item["error"] for item in case.failures}
    run = OfflineEngine(
        [dataclasses.replace(flow, enabled=True)],
        registry,
        start=start_at,
        failures=failures,
        traces=TraceStore(10_000, 10_000),
        timezone=timezone,
        schedule_horizon=math.inf,
        explain=True,
    )
    engine, recorder = run.engine, run.recorder
    await engine.start()
    for item in sorted(case.events, key=lambda e: e.at):
        await run.feed(item.event, start_at + item.at)
    until = case.until
    if until is None and flow.schedules:  # schedules never run out: a day after the events
        until = max((item.at for item in case.events), default=0.0) + SCHEDULED_DAY
    await run.run_until(None if until is None else start_at + until)
    actions = run.records()
    effects = [record for record in actions if engine.registry.actions[record.action].effect]
    problems = _compare(case, effects, engine, recorder, start_at)
    await engine.stop()
    return TestResult(flow.name, case.name, case.location, not problems, problems, actions)


def _compare(
    case: TestCase,
    effects: list[ActionRecord],
    engine: Engine,
    recorder: Recorder,
    start_at: float,
) -> list[str]:
    problems: list[str] = []
    if case.expect is not None and not _matches(case.expect, effects):
        expected = [_expected_line(item) for item in case.expect]
        actual = []
        for index, record in enumerate(effects):
            want = case.expect[index] if index < len(case.expect) else None
            if want is not None and want.action == record.action:
                actual.append(record.line(want.args, timed=want.at is not None))
            else:
                actual.append(record.line())
        diff = difflib.unified_diff(expected, actual, "expected", "actual", lineterm="")
        problems.append("actions differ:\n" + "\n".join(list(diff)[2:]))
    for name in case.absent:
        taken = [record for record in effects if record.action == name]
        if taken:
            problems.append(f"{name} was taken but should not be: {taken[0].line()}")
    if case.state is not None:
        problems.extend(_check_states(case.state, engine))
    if problems:
        problems.extend(_why_not(recorder, start_at))
    return problems


def _matches(expect: list[Expect], effects: list[ActionRecord]) -> bool:
    if len(expect) != len(effects):
        return False
    for want, got in zip(expect, effects, strict=True):
        if want.action != got.action:
            return False
        if want.at is not None and abs(want.at - got.at) > 1e-6:
            return False
        for name, value in want.args.items():
            if not _same(value, got.args.get(name)):
                return False
    return True


def _same(expected: Any, actual: Any) -> bool:
    if (
        isinstance(expected, int | float)
        and isinstance(actual, str)
        and not isinstance(expected, bool)
    ):
        return str(expected) == actual
    return expected == actual


def _expected_line(item: Expect) -> str:
    text = " ".join(f"{k}={format_value(v)}" for k, v in item.args.items())
    when = "" if item.at is None else _seconds(item.at) + " "
    return f"{when}{item.action} {text}".rstrip()


def _check_states(expected: str | dict[str, str], engine: Engine) -> list[str]:
    live: dict[str, Execution] = {str(e.key): e for e in engine.executions()}
    seen = {str(trace.key) for trace in engine.traces} | set(live)
    wanted = {key: expected for key in seen} if isinstance(expected, str) else expected
    if isinstance(expected, str) and not seen:
        return [f"expected state {expected!r} but no execution started"]
    problems = []
    for key, state in wanted.items():
        actual = live[key].state if key in live else (END if key in seen else None)
        if actual is None:
            problems.append(f"expected {key} in state {state!r} but it never started")
        elif actual != state:
            problems.append(f"expected {key} in state {state!r}, it is in {actual!r}")
    return problems


def _why_not(recorder: Recorder, start_at: float) -> list[str]:
    """Why events did nothing: false start conditions, drops and skipped actions, in order."""
    lines = [
        (
            t,
            f"at {_seconds(t - start_at)} {event} for {key}: start condition {source!r} "
            f"was {format_value(value) or 'null'}",
        )
        for t, _, event, key, source, value in recorder.misses
    ]
    lines += [(t, f"at {_seconds(t - start_at)} {text}") for t, text in recorder.reasons]
    return [text for _, text in sorted(lines, key=lambda line: line[0])]


def _start_time(text: str | None, timezone: str | None) -> float:
    moment = datetime.fromisoformat(text or DEFAULT_START)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment.timestamp()


def _seconds(value: float) -> str:
    return f"{value:g}s"


# -- replay ---------------------------------------------------------------------------------------

_TIME_FIELDS = ("receivedAt", "received", "time", "timestamp", "ts", "t")


async def replay(
    flows: Iterable[Flow],
    log: str | Path,
    registry: Registry | None = None,
    timezone: str | None = None,
) -> ReplayReport:
    """Feed a recorded event log (JSON lines) through ``flows``, recording what they would do.

    Each line is an event object, or ``{"event": {...}, TIME: ...}``; a time field
    (``receivedAt``, ``time``, ``ts``...: epoch seconds or ISO text) places it on the
    virtual clock, otherwise events follow each other at the same instant.
    """
    report = ReplayReport()
    entries: list[tuple[float | None, dict[str, Any]]] = []
    for number, line in enumerate(Path(log).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            report.errors.append(f"{log}:{number}: not JSON ({exc})")
            continue
        event = item.get("event") if isinstance(item, dict) and "eventName" not in item else item
        if not isinstance(event, dict) or "eventName" not in event:
            report.errors.append(f"{log}:{number}: not an event (no eventName)")
            continue
        entries.append((_time_of(item) if isinstance(item, dict) else None, event))
    times = [t for t, _ in entries if t is not None]
    start_at = min(times) if times else _start_time(None, timezone)
    run = OfflineEngine(
        flows, registry, start=start_at, timezone=timezone, schedule_horizon=math.inf
    )
    await run.engine.start()
    for at, event in entries:
        now = run.clock.now
        await run.feed(event, max(now, at if at is not None else now))
        report.events += 1
    scheduled = any(runtime.flow.schedules for runtime in run.engine.flows.values())
    await run.run_until(run.clock.now if scheduled else None)  # schedules never end
    report.actions = run.records()
    await run.engine.stop()
    return report


def _time_of(item: dict[str, Any]) -> float | None:
    for name in _TIME_FIELDS:
        value = item.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) / (1000 if value > 1e11 else 1)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None
