"""Executions as plain data: one run of a flow for one key, as the store keeps it.

An ``Execution`` holds only what survives a restart: the flow and its version, the key,
the state and how many times a state was entered (``visit``, part of a timer's identity),
the variables, the deadlines of the state's ``after`` timers, the actions of the current
transition not yet run (``plan``, as indexes into the flow's step table) and the events
the templates read. The machinery that drives it (tasks, inboxes, timer handles) lives
in the engine and is rebuilt from this.
"""

from __future__ import annotations

from typing import Any

__all__ = ["START", "Execution"]

#: The state of an execution before its start handler ran.
START = "<start>"


class Execution:
    """One run of a flow for one key (the model its ``transitions`` machine moves)."""

    __slots__ = (
        "deadlines",
        "event",
        "first",
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
        self.event = event  # the event being handled, or the last one handled
        self.first = event  # the event that started it (``on_reload: restart`` replays it)
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

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``from_record`` reads it back)."""
        record = {name: getattr(self, name) for name in self.__slots__}
        if self.first is self.event:
            record["first"] = None  # stored once
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Execution:
        """The execution a ``to_record`` dict describes."""
        execution = cls.__new__(cls)
        for name in cls.__slots__:
            setattr(execution, name, record[name])
        if execution.first is None:
            execution.first = execution.event
        execution.plan = tuple(execution.plan)
        if execution.deadlines is not None:
            execution.deadlines = tuple(execution.deadlines)
        return execution

    def __repr__(self) -> str:
        return f"<Execution #{self.id} {self.flow}[{self.key}] {self.state}>"
