"""Executions as plain data: one run of a flow for one key, as the store keeps it.

An ``Execution`` holds only what survives a restart: the flow and its version, the key,
the state and how many times a state was entered (``visit``, part of a timer's identity),
the variables, the deadlines of the state's ``after`` timers, the actions of the current
transition not yet run (``plan``, as indexes into the flow's step table) and the events
the templates read. The machinery that drives it (tasks, inboxes, timer handles) lives
in the engine and is rebuilt from this.

While an execution waits, ``rest()`` keeps its events as JSON bytes, decoded when read
again: a live execution then holds a few objects for the garbage collector to scan
instead of the ten or so of each event it keeps.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["START", "Execution", "compact", "expand"]

#: What orjson would turn into another type (datetimes, subclasses, dataclasses) raises
#: instead, so that such an event is kept as it is.
_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


#: The last event made bytes, and its bytes: one event reaches a trace and an execution of
#: every flow it starts or moves, and is encoded once for all (events are never changed once
#: dispatched: every flow is given the same dict).
_last: tuple[Any, bytes] = (None, b"")


def compact(event: Any) -> Any:
    """``event`` as JSON bytes, or as it is when it is not plain JSON data."""
    global _last
    if type(event) is bytes:
        return event
    if event is _last[0]:
        return _last[1]
    try:
        text = orjson.dumps(event, option=_STRICT)
    except TypeError:
        return event
    text = memoryview(text).tobytes()  # orjson's bytes hold a 4 KB buffer; this, their size
    _last = (event, text)
    return text


def expand(event: Any) -> Any:
    """The value ``compact`` was given back (a new copy of it when it was made bytes)."""
    return orjson.loads(event) if type(event) is bytes else event


#: The state of an execution before its start handler ran.
START = "<start>"


class Execution:
    """One run of a flow for one key (the model its ``transitions`` machine moves)."""

    __slots__ = (
        "_event",
        "_first",
        "deadlines",
        "flow",
        "id",
        "key",
        "login",
        "plan",
        "started",
        "state",
        "vars",
        "version",
        "visit",
    )

    def __init__(
        self,
        id: int,
        flow: str,
        version: str,
        key: Any,
        event: dict[str, Any],
        started: float,
    ) -> None:
        self.id = id
        self.flow = flow
        self.version = version
        self.key = key
        self.state = START
        self._event: Any = event
        self._first: Any = None  # None: the event is still the first one
        self.login: str | None = event.get("loginName")
        self.started = started
        self.vars: dict[str, Any] | None = None  # None: the flow's own, unchanged
        self.visit = 0
        self.deadlines: tuple[float | None, ...] | None = None  # per ``after`` of the state
        self.plan: tuple[int, ...] = ()  # most executions wait with nothing planned

    def set_vars(self, values: dict[str, Any], defaults: dict[str, Any]) -> None:
        """Set execution variables over the flow's ``defaults`` (copied on first write)."""
        if self.vars is None:
            self.vars = dict(defaults)
        self.vars.update(values)

    @property
    def event(self) -> dict[str, Any]:
        """The event being handled, or the last one handled."""
        event = self._event
        return orjson.loads(event) if type(event) is bytes else event

    @event.setter
    def event(self, event: dict[str, Any]) -> None:
        if self._first is None and event is not self._event:
            self._first = self._event
        self._event = event

    @property
    def first(self) -> dict[str, Any]:
        """The event that started it (``on_reload: restart`` replays it)."""
        return self.event if self._first is None else expand(self._first)

    def rest(self) -> None:
        """Keep the events as JSON bytes while nothing reads them (see the module's doc)."""
        self._event = compact(self._event)
        if self._first is not None:
            self._first = compact(self._first)

    def to_record(self) -> dict[str, Any]:
        """A dict of every field for orjson (``from_record`` reads it back); events kept as
        bytes go in as they are."""
        record = {name: getattr(self, name) for name in _FIELDS}
        record["event"] = _as_json(self._event)
        record["first"] = None if self._first is None else _as_json(self._first)  # stored once
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Execution:
        """The execution a ``to_record`` dict describes."""
        execution = cls.__new__(cls)
        for name in _FIELDS:
            setattr(execution, name, record[name])
        execution._event, execution._first = record["event"], record["first"]
        execution.plan = tuple(execution.plan)
        if execution.deadlines is not None:
            execution.deadlines = tuple(execution.deadlines)
        return execution

    def __repr__(self) -> str:
        return f"<Execution #{self.id} {self.flow}[{self.key}] {self.state}>"


#: The fields of a record besides the events.
_FIELDS = tuple(name for name in Execution.__slots__ if not name.startswith("_"))


def _as_json(event: Any) -> Any:
    return orjson.Fragment(event) if type(event) is bytes else event
