"""What a loaded flow is: plain, immutable-by-convention objects built by the loader.

A rule (``on``/``when``/``do``) is a machine whose start handler goes straight to ``end``,
so the runtime knows one shape only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._yaml import Location
from .expressions import Expression

if TYPE_CHECKING:
    from .actions import ActionSpec

__all__ = [
    "END",
    "MODES",
    "RELOAD_POLICIES",
    "SCHEDULE_EVENT",
    "Expect",
    "Flow",
    "Handler",
    "Schedule",
    "State",
    "Step",
    "TestCase",
    "TestEvent",
    "Timer",
]

END = "end"
MODES = ("single", "restart", "queued", "parallel")
RELOAD_POLICIES = ("keep", "restart", "cancel")
#: The event a flow's ``schedule`` delivers to it.
SCHEDULE_EVENT = "OnSchedule"


@dataclass(frozen=True, slots=True)
class Retry:
    """``retry:`` of an action: how many attempts in all, the delay between two, and the
    errors worth another attempt (text found in the error; empty: any error)."""

    attempts: int
    delay: float
    on: tuple[str, ...] = ()

    def covers(self, error: dict[str, Any]) -> bool:
        """Whether a failure (the action's error fields) is one to try again."""
        if not self.on:
            return True
        text = " ".join(str(value) for value in error.values())
        return any(part in text for part in self.on)


@dataclass(slots=True)
class Step:
    """One action of a list: the action, its compiled arguments and how it may fail."""

    action: ActionSpec
    args: dict[str, Any]
    location: Location
    guard: Expression | None = None
    on_error: str = "stop"  # "continue" | "stop" | "goto"
    error_goto: str | None = None
    result_var: str | None = None
    retry: Retry | None = None

    @property
    def name(self) -> str:
        """The action's name."""
        return self.action.name


@dataclass(slots=True)
class Handler:
    """What an event does: a condition, actions, and maybe a move to another state."""

    events: tuple[str, ...]
    location: Location
    when: Expression | None = None
    do: list[Step] = field(default_factory=list)
    goto: str | None = None


@dataclass(slots=True)
class Timer:
    """``after``: ``delay`` seconds (a number or a template) after entering the state.

    ``on_missed`` says what a timer that came due while the engine was down, longer ago
    than the grace, does at restart: ``end`` the execution, ``fire`` anyway, or ``goto``
    ``missed_goto``.
    """

    delay: Any
    location: Location
    goto: str | None = None
    do: list[Step] = field(default_factory=list)
    on_missed: str = "end"  # "end" | "fire" | "goto"
    missed_goto: str | None = None


@dataclass(slots=True)
class Schedule:
    """One entry of a flow's ``schedule``: when it fires, in which time zone.

    ``kind`` is ``cron`` (``value``: a crontab line), ``every`` (seconds), ``at`` (an ISO
    date and time) or ``start`` (when the engine starts or the flow is loaded). Each firing
    delivers ``OnSchedule`` to the flow, with ``event.schedule`` set to ``name``.
    """

    name: str
    kind: str
    value: Any
    location: Location
    timezone: str | None = None


@dataclass(slots=True)
class State:
    """A machine state: actions on entering and leaving, handlers by event, timers."""

    name: str
    location: Location
    enter: list[Step] = field(default_factory=list)
    exit: list[Step] = field(default_factory=list)
    on: dict[str, list[Handler]] = field(default_factory=dict)
    after: list[Timer] = field(default_factory=list)
    goto: str | None = None

    def steps(self) -> Iterator[Step]:
        """Every action of the state: ``enter``, ``exit``, and its handlers' and timers' ``do``."""
        yield from self.enter
        yield from self.exit
        for handlers in self.on.values():
            for handler in handlers:
                yield from handler.do
        for timer in self.after:
            yield from timer.do


@dataclass(slots=True)
class TestEvent:
    """An event a test sends, ``at`` seconds after its start."""

    at: float
    event: dict[str, Any]
    location: Location


@dataclass(slots=True)
class Expect:
    """An expected action: its name, the arguments that must match, and maybe when."""

    action: str
    args: dict[str, Any]
    location: Location
    at: float | None = None


@dataclass(slots=True)
class TestCase:
    """One entry of a flow's ``tests:``."""

    name: str
    location: Location
    events: list[TestEvent] = field(default_factory=list)
    expect: list[Expect] | None = None
    absent: list[str] = field(default_factory=list)
    state: str | dict[str, str] | None = None
    start: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    until: float | None = None


@dataclass(slots=True)
class Flow:
    """A validated flow, ready for the runtime."""

    name: str
    file: str
    location: Location
    key: Expression
    start: list[Handler]
    states: dict[str, State]
    description: str = ""
    mode: str = "single"
    max: int = 10
    users: frozenset[str] | None = None  # None: every user ("*")
    vars: dict[str, Any] = field(default_factory=dict)
    tests: list[TestCase] = field(default_factory=list)
    is_rule: bool = False
    uses_now: bool = False
    digest: str = ""
    enabled: bool = True
    schedules: list[Schedule] = field(default_factory=list)
    on_reload: str = "keep"

    def events(self) -> set[str]:
        """Every event name this flow reacts to."""
        names = {name for handler in self.start for name in handler.events}
        if self.schedules:
            names.add(SCHEDULE_EVENT)
        for state in self.states.values():
            names.update(state.on)
        return names
