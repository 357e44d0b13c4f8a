"""Traces: what drove an execution and what it did, kept for recent and failed executions.

``TraceStore`` is an engine observer: it appends a tuple to the running execution's trace
at each step (cheap on the hot path) and keeps finished traces in two bounded queues, one
for all recent executions and one for the failed ones, so a flood of ordinary calls never
evicts the failure you are after.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .observer import Observer
from .state import Execution, compact, expand

__all__ = ["REDACTED_FIELDS", "Drop", "Trace", "TraceStore", "format_trace", "redact"]

# Fields holding phone numbers of parties (O2G events, action arguments).
REDACTED_FIELDS = frozenset(
    {
        "phoneNumber",
        "participantId",
        "number",
        "caller",
        "callee",
        "newDestination",
        "to",
        "recipient",
        "initialCalled",
        "redirect_to",
        "transfer_to",
    }
)
_DIGITS = re.compile(r"\d")


def _mask(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 2:
        return _DIGITS.sub("*", value[:-2]) + value[-2:]
    if isinstance(value, dict | list):
        return redact(value)
    return value


def redact(value: Any, fields: frozenset[str] = REDACTED_FIELDS) -> Any:
    """A copy of ``value`` with the digits of number fields masked but the last two."""
    if isinstance(value, dict):
        return {k: (_mask(v) if k in fields else redact(v, fields)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, fields) for v in value]
    return value


class Trace:
    """One execution's record. ``entries`` are tuples ``(time, kind, ...)``:

    - ``(t, "event", name, event)``: an event the execution received, as JSON bytes when
      it is plain JSON data (``state.expand`` gives it back; ``to_dict`` does)
    - ``(t, "condition", expression, result)``: a condition and its value (or error text)
    - ``(t, "transition", source, dest, trigger)``
    - ``(t, "action", name, args, ok, result_or_error, milliseconds)``
    - ``(t, "skip", name, reason)``: an action not run (its guard was false)
    - ``(t, "timer", description)`` and ``(t, "note", text)``
    """

    __slots__ = ("ended", "entries", "failed", "flow", "key", "outcome", "serial", "started")

    def __init__(self, flow: str, key: Any, serial: int, started: float) -> None:
        self.flow = flow
        self.key = key
        self.serial = serial
        self.started = started
        self.ended: float | None = None
        self.outcome = "running"
        self.failed = False
        self.entries: list[tuple[Any, ...]] = []

    def add(self, *entry: Any) -> None:
        """Append one entry ``(time, kind, ...)`` (see the class docstring)."""
        self.entries.append(entry)

    def actions(self) -> list[tuple[Any, ...]]:
        """The action entries, in order."""
        return [entry for entry in self.entries if entry[1] == "action"]

    def states(self) -> list[str]:
        """The states the execution went through, in order."""
        return [entry[3] for entry in self.entries if entry[1] == "transition"]

    def to_dict(self, redacted: bool = False) -> dict[str, Any]:
        """A JSON-ready view."""
        entries = []
        for t, kind, *data in self.entries:
            item: dict[str, Any] = {"t": t, "kind": kind}
            if kind == "event":
                item.update(name=data[0], event=expand(data[1]))
            elif kind == "condition":
                item.update(expression=data[0], result=data[1])
            elif kind == "transition":
                item.update(source=data[0], dest=data[1], trigger=data[2])
            elif kind == "action":
                item.update(action=data[0], args=data[1], ok=data[2], result=data[3], ms=data[4])
            elif kind == "skip":
                item.update(action=data[0], reason=data[1])
            else:
                item.update(text=data[0])
            entries.append(redact(item) if redacted else item)
        return {
            "flow": self.flow,
            "key": _mask(self.key) if redacted else self.key,
            "serial": self.serial,
            "started": self.started,
            "ended": self.ended,
            "outcome": self.outcome,
            "failed": self.failed,
            "entries": entries,
        }

    def format(self, redacted: bool = False) -> str:
        """A readable, multi-line rendering."""
        return format_trace(self.to_dict(redacted))

    def __repr__(self) -> str:
        return f"<Trace {self.flow}[{self.key}] #{self.serial} {self.outcome}>"


def format_trace(view: dict[str, Any]) -> str:
    """A readable, multi-line rendering of ``Trace.to_dict()`` (as the status API serves it)."""
    head = (
        f"{view['flow']}[{view['key']}] #{view['serial']} {view['outcome']}"
        f"{' (failed)' if view['failed'] else ''} started {_clock(view['started'])}"
    )
    lines = [head]
    for item in view["entries"]:
        lines.append(f"  {_clock(item['t'])} {_describe(item)}")
    return "\n".join(lines)


def _clock(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(item: dict[str, Any]) -> str:
    kind = item["kind"]
    if kind == "event":
        return f"event      {item['name']} {_short(item['event'])}"
    if kind == "condition":
        return f"condition  {item['expression']} -> {_short(item['result'])}"
    if kind == "transition":
        return f"transition {item['source']} -> {item['dest']} ({item['trigger']})"
    if kind == "action":
        status = "ok" if item["ok"] else "FAILED"
        return (
            f"action     {item['action']} {_short(item['args'])} {status} "
            f"{_short(item['result'])} {item['ms']:.1f} ms"
        )
    if kind == "skip":
        return f"skipped    {item['action']}: {item['reason']}"
    return f"{kind:<10} {item['text']}"


@dataclass(frozen=True, slots=True)
class Drop:
    """An event a flow listened to and dropped, with the reason."""

    at: float
    flow: str
    name: Any
    event: dict[str, Any]
    reason: str

    def __str__(self) -> str:
        return f"{_clock(self.at)} {self.flow}: {self.name} dropped: {self.reason}"


class TraceStore(Observer):
    """Traces of running executions, and the ``recent`` last finished ones and separately
    the ``failed`` last ones."""

    def __init__(
        self, recent: int = 200, failed: int = 200, redact_numbers: bool = False, drops: int = 200
    ) -> None:
        self.redact_numbers = redact_numbers
        self._live: dict[int, Trace] = {}
        self._recent: deque[Trace] = deque(maxlen=recent)
        self._failed: deque[Trace] = deque(maxlen=failed)
        self._drops: deque[Drop] = deque(maxlen=drops)
        self.drop_count = 0

    def current(self, execution: Execution) -> Trace:
        """The trace of a running execution."""
        return self._live[execution.id]

    def running(self) -> list[Trace]:
        """The traces of the running executions."""
        return list(self._live.values())

    def drops(self) -> list[Drop]:
        """The last events a flow dropped, and why (oldest first; ``drop_count`` counts all)."""
        return list(self._drops)

    def archive(self, trace: Trace) -> None:
        """Keep a finished trace (redacted first if the store redacts numbers)."""
        if self.redact_numbers:
            _redact_in_place(trace)
        self._recent.append(trace)
        if trace.failed:
            self._failed.append(trace)

    # -- the observer -------------------------------------------------------------------------

    def dropped(self, at: float, flow: str, event: dict[str, Any], reason: str) -> None:
        self.drop_count += 1
        kept = redact(event) if self.redact_numbers else event
        self._drops.append(Drop(at, flow, event.get("eventName"), kept, reason))

    def started(self, at: float, execution: Execution, condition: tuple[str, Any] | None) -> None:
        trace = self._live[execution.id] = Trace(execution.flow, execution.key, execution.id, at)
        event = execution.event
        trace.entries.append((at, "event", event.get("eventName"), compact(event)))
        if condition is not None:
            trace.entries.append((at, "condition", condition[0], condition[1]))

    def restored(self, at: float, execution: Execution) -> None:
        trace = Trace(execution.flow, execution.key, execution.id, execution.started)
        trace.entries.append((at, "note", f"restored in {execution.state}"))
        self._live[execution.id] = trace

    def event(self, at: float, execution: Execution, name: str, event: dict[str, Any]) -> None:
        self._live[execution.id].entries.append((at, "event", name, compact(event)))

    def condition(self, at: float, execution: Execution, source: str, result: Any) -> None:
        self._live[execution.id].entries.append((at, "condition", source, result))

    def transition(
        self, at: float, execution: Execution, source: str, dest: str, cause: Any
    ) -> None:
        self._live[execution.id].entries.append((at, "transition", source, dest, cause))

    def timer(self, at: float, execution: Execution, label: str) -> None:
        self._live[execution.id].entries.append((at, "timer", label))

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
        trace = self._live[execution.id]
        trace.entries.append((at, "action", name, args, ok, result, ms))
        if not ok:
            trace.failed = True

    def skipped(self, at: float, execution: Execution, name: str, reason: str) -> None:
        self._live[execution.id].entries.append((at, "skip", name, reason))

    def note(self, at: float, execution: Execution, text: str, failed: bool = False) -> None:
        trace = self._live[execution.id]
        trace.entries.append((at, "note", text))
        if failed:
            trace.failed = True

    def ended(self, at: float, execution: Execution, outcome: str) -> None:
        trace = self._live.pop(execution.id)
        trace.ended = at
        trace.outcome = outcome
        self.archive(trace)

    def query(
        self,
        flow: str | None = None,
        key: Any = None,
        failed: bool | None = None,
        limit: int | None = None,
    ) -> list[Trace]:
        """Finished traces, newest last, filtered by flow, key and failure."""
        source: Iterable[Trace] = self._failed if failed else self._recent
        found = [
            trace
            for trace in source
            if (flow is None or trace.flow == flow)
            and (key is None or trace.key == key)
            and (failed is None or trace.failed == failed)
        ]
        return found[-limit:] if limit else found

    def __iter__(self) -> Iterator[Trace]:
        """The finished traces, oldest first."""
        return iter(self._recent)

    def __len__(self) -> int:
        return len(self._recent)


def _redact_in_place(trace: Trace) -> None:
    redacted = []
    for entry in trace.entries:
        t, kind, *data = entry
        if kind == "event":
            data = [data[0], compact(redact(expand(data[1])))]
        elif kind == "action":
            data = [redact(item) if isinstance(item, dict | list) else item for item in data]
        redacted.append((t, kind, *data))
    trace.entries = redacted
    trace.key = _mask(trace.key)
