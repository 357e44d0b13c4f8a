"""Which events can reach a flow: warnings for events its key or ``users:`` would drop.

The fields an event carries come from the O2G catalogue, from the ``data:`` of the flows'
``emit`` actions, or are unknown (a plugin's events): a flow listening to events that carry
none of the fields its key reads, or no ``loginName`` when it filters on ``users:``, gets a
located warning at load (``validate --strict`` makes warnings errors).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from .._yaml import Location, SourceError
from ..spec import catalogue
from .expressions import Dynamic, Expression
from .model import SCHEDULE_EVENT, Flow, Step

__all__ = ["reach_warnings"]


@functools.cache
def _o2g_fields() -> dict[str, frozenset[str]]:
    return {
        event["name"]: frozenset(field["name"] for field in event["fields"])
        for event in catalogue()["events"]
    }


def emitted_fields(flows: Iterable[Flow]) -> dict[str, frozenset[str] | None]:
    """Fields of the events flows emit (None when an ``emit`` builds its data at run time)."""
    found: dict[str, frozenset[str] | None] = {}
    for flow in flows:
        for step in _steps(flow):
            if step.name != "emit" or not isinstance(step.args.get("event"), str):
                continue
            name = step.args["event"]
            data = step.args.get("data")
            items = getattr(data, "items", data) if isinstance(data, Dynamic) else data
            fields = frozenset(items) if isinstance(items, dict) else None
            if data is None:
                fields = frozenset()
            if name in found and (found[name] is None or fields is None):
                found[name] = None
            else:
                found[name] = (found.get(name) or frozenset()) | (fields or frozenset())
    return found


def reach_warnings(flows: list[Flow], default_key: str) -> list[SourceError]:
    """A warning for each event a flow listens to that its key or ``users:`` would drop
    (for events whose fields are unknown, only with the ``default_key``)."""
    emitted = emitted_fields(flows)
    warnings = []
    for flow in flows:
        read = _key_fields(flow.key)
        for name, where in _listened(flow):
            fields = _fields(name, emitted)
            unknown = fields is None and flow.key.source == default_key
            if read is not None and (unknown or (fields is not None and not fields & read)):
                fields_read = ", ".join(sorted(read))
                if fields is None:
                    text = (
                        f"{name} is not an O2G event and its fields are unknown: if it carries "
                        f"none of {fields_read} (what the default key reads), the flow drops "
                        "it; set key:"
                    )
                else:
                    text = (
                        f"{name} carries none of {fields_read} (what the key "
                        f"{flow.key.source} reads): the flow drops every one; set key:"
                    )
                warnings.append(SourceError(where, text))
            if (
                flow.users is not None
                and name != SCHEDULE_EVENT
                and "loginName" not in (fields or ())
            ):
                users = ", ".join(sorted(flow.users))
                certain = "names no user" if fields is not None else "may name no user"
                warnings.append(
                    SourceError(
                        where,
                        f"{name} {certain} (loginName), and users: {users} keeps such events "
                        "out; drop users: or filter with when:",
                    )
                )
    return warnings


def _fields(name: str, emitted: dict[str, frozenset[str] | None]) -> frozenset[str] | None:
    if name == SCHEDULE_EVENT:
        return frozenset({"eventName", "flow", "schedule", "time", "scheduled", "late"})
    if name in _o2g_fields():
        return _o2g_fields()[name]
    return emitted.get(name)


def _key_fields(key: Expression) -> frozenset[str] | None:
    """The event fields a key of the form ``event.a || event.b ...`` reads (else None)."""
    fields: set[str] = set()
    pending: list[Any] = [key.parsed]
    while pending:
        node = pending.pop()
        kind = node["type"]
        if kind == "or_expression":
            pending.extend(node["children"])
        elif kind == "subexpression" and node["children"][0] == {
            "type": "field",
            "children": [],
            "value": "event",
        }:
            second = node["children"][1]
            if second["type"] != "field":
                return None
            fields.add(second["value"])
        else:
            return None
    return frozenset(fields)


def _listened(flow: Flow) -> list[tuple[str, Location]]:
    """Each event the flow listens to, once, where it is first written."""
    seen: dict[str, Location] = {}
    for handler in flow.start:
        for name in handler.events:
            seen.setdefault(name, handler.location)
    for state in flow.states.values():
        for name, handlers in state.on.items():
            seen.setdefault(name, handlers[0].location if handlers else state.location)
    return list(seen.items())


def _steps(flow: Flow) -> Iterable[Step]:
    for handler in flow.start:
        yield from handler.do
    for state in flow.states.values():
        yield from state.steps()
