"""The flows for every user listening to one event, found by the constant tests of their
start conditions instead of evaluating each condition.

A start condition is indexed on one of its conjuncts (the condition itself, or one of the
tests joined by ``&&`` at its top: the one fewest other conditions share) of these shapes,
where ``path`` is a plain path into the event (fields and list indexes:
``event.legs[0].state``) and the constants are text:

- ``path == 'text'`` and ``'text' == path``;
- ``contains(['a', 'b'], path)`` (a list of texts written in the expression, or as a JSON
  literal) and ``contains(vars.NAME, path)`` where the flow's variable is a list of texts;
- ``path == vars.NAME`` and ``vars.NAME == path`` where the variable is a text.

Such a conjunct is true only when the path's value is one of the constants, so a flow
whose conjuncts' paths hold none of its constants cannot start: it is not offered the
event. Any other condition (``||``, ``!=``, numbers, functions of the event...) leaves the
flow offered every event, as without the index.

Skipping a flow is only exact if offering it would have done nothing visible, so a flow
is indexed only where that can be known without evaluating its condition: it has start
handlers for the event, each with an indexable condition; its key reads only the event
(flows with the same key expression share one evaluation per event, and a null, failing
or unhashable key offers them all, which reports the drop); and it is offered every event
while it has live executions (``note_live``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .expressions import EvaluationError, Expression, _path

if TYPE_CHECKING:
    from .runtime import FlowRuntime

__all__ = ["ConditionIndex", "indexed_tests"]

#: Fewer indexable flows than this on one event are simply offered it.
MIN_INDEXED = 4

Steps = tuple[str | int, ...]


def _texts(node: dict[str, Any], variables: dict[str, Any]) -> frozenset[str] | None:
    """The texts a constant list node stands for (a literal, ``[...]`` of literals, or a
    flow variable); None if it is not one."""
    kind = node["type"]
    if kind == "literal":
        value = node["value"]
    elif kind == "multi_select_list":
        value = []
        for child in node["children"]:
            if child["type"] != "literal":
                return None
            value.append(child["value"])
    else:
        value = _variable(node, variables)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    return None


def _text(node: dict[str, Any], variables: dict[str, Any]) -> str | None:
    """The text a constant node stands for (a literal or a flow variable), or None."""
    value = node["value"] if node["type"] == "literal" else _variable(node, variables)
    return value if isinstance(value, str) else None


def _variable(node: dict[str, Any], variables: dict[str, Any]) -> Any:
    steps = _path(node) if node["type"] == "subexpression" else None
    if steps is None or len(steps) != 2 or steps[0] != "vars" or not isinstance(steps[1], str):
        return None
    return variables.get(steps[1])


def _event_path(node: dict[str, Any]) -> Steps | None:
    """The steps of a plain path into the event, after ``event``; None for anything else."""
    if node["type"] not in ("subexpression", "index_expression"):
        return None
    steps = _path(node)
    if not steps or steps[0] != "event":
        return None
    return tuple(steps[1:])


def _test(node: dict[str, Any], variables: dict[str, Any]) -> tuple[Steps, frozenset[str]] | None:
    """``(path, texts)`` if ``node`` is true only when the path holds one of the texts."""
    kind = node["type"]
    if kind == "comparator" and node["value"] == "eq":
        left, right = node["children"]
        for path_node, constant in ((left, right), (right, left)):
            steps = _event_path(path_node)
            text = _text(constant, variables) if steps is not None else None
            if steps is not None and text is not None:
                return steps, frozenset((text,))
    if kind == "function_expression" and node["value"] == "contains":
        subject, search = node["children"]
        steps = _event_path(search)
        texts = _texts(subject, variables) if steps is not None else None
        if steps is not None and texts is not None:
            return steps, texts
    return None


def _conjuncts(node: dict[str, Any]) -> Iterable[dict[str, Any]]:
    if node["type"] == "and_expression":
        for child in node["children"]:
            yield from _conjuncts(child)
    else:
        yield node


def indexed_tests(
    condition: Expression, variables: dict[str, Any]
) -> list[tuple[Steps, frozenset[str]]]:
    """The conjuncts of ``condition`` the index can use, each as the path into the event
    and the texts one of which it must hold for the condition to be true."""
    found = (_test(node, variables) for node in _conjuncts(condition.parsed))
    return [test for test in found if test is not None]


def _follow(value: Any, steps: Steps) -> Any:
    """The path's value, with the expressions' rules (what does not exist is null)."""
    for step in steps:
        if step.__class__ is int:
            if not isinstance(value, list):
                return None
            try:
                value = value[step]  # type: ignore[index]
            except IndexError:
                return None
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


class ConditionIndex:
    """The flows for every user that listen to one event name, indexed where they can be.

    ``select(event, plain)`` gives, in load order, the flows of ``plain`` (the ones offered
    every event) with the indexed flows the event may start or that have live executions.
    Each flow is given by ``(ordinal, runtime)``, the ordinal being its load order.
    """

    def __init__(self, name: str, flows: Iterable[tuple[int, FlowRuntime]]) -> None:
        self.name = name
        self.plain: list[tuple[int, FlowRuntime]] = []
        self.indexed: list[tuple[int, FlowRuntime]] = []
        tables: dict[Steps, dict[str, list[tuple[int, FlowRuntime]]]] = {}
        keys: dict[str, tuple[Expression, list[tuple[int, FlowRuntime]]]] = {}
        found = [(item, self._tests(item[1])) for item in flows]
        # each start condition is indexed on its most selective conjunct: the one whose
        # texts the fewest other conditions test for on the same path
        shared: dict[tuple[Steps, str], int] = {}
        for _, handlers in found:
            for conjuncts in handlers or ():
                for steps, texts in conjuncts:
                    for text in texts:
                        shared[steps, text] = shared.get((steps, text), 0) + 1
        for item, handlers in found:
            if handlers is None:
                self.plain.append(item)
                continue
            self.indexed.append(item)
            key = item[1].flow.key
            keys.setdefault(key.source, (key, []))[1].append(item)
            for conjuncts in handlers:
                steps, texts = min(
                    conjuncts, key=lambda test: sum(shared[test[0], text] for text in test[1])
                )
                table = tables.setdefault(steps, {})
                for text in texts:
                    entries = table.setdefault(text, [])
                    if item not in entries:
                        entries.append(item)
        self._tables = list(tables.items())
        self._keys = list(keys.values())
        self._ordinals = {id(runtime): ordinal for ordinal, runtime in self.indexed}
        self.active: dict[int, tuple[int, FlowRuntime]] = {}
        for ordinal, runtime in self.indexed:
            runtime.watchers.append(self)
            if runtime.live:
                self.active[id(runtime)] = (ordinal, runtime)

    def _tests(self, runtime: FlowRuntime) -> list[list[tuple[Steps, frozenset[str]]]] | None:
        """Per start handler for the event, its indexable conjuncts; None if the flow
        cannot be indexed."""
        flow = runtime.flow
        starts = runtime.starts.get(self.name)
        if not starts or not flow.key.names <= {"event"}:
            return None
        handlers = []
        for _, handler in starts:
            if handler.when is None:
                return None
            found = indexed_tests(handler.when, flow.vars)
            if not found:
                return None
            handlers.append(found)
        return handlers

    def detach(self) -> None:
        """Stop following the live executions of the flows (the index is not used)."""
        for _, runtime in self.indexed:
            runtime.watchers.remove(self)

    def __len__(self) -> int:
        return len(self.indexed)

    def note_live(self, runtime: FlowRuntime) -> None:
        """``runtime`` gained its first live execution or lost its last one."""
        key = id(runtime)
        if runtime.live:
            self.active[key] = (self._ordinals[key], runtime)
        else:
            self.active.pop(key, None)

    def select(self, event: dict[str, Any], plain: list[tuple[int, Any]]) -> list[Any]:
        """The flows to offer ``event`` to, in load order (``plain`` first sorted likewise)."""
        chosen: dict[int, Any] = {}
        for steps, table in self._tables:
            value = _follow(event, steps)
            if value.__class__ is str:
                found = table.get(value)  # type: ignore[arg-type]
                if found:
                    for ordinal, runtime in found:
                        chosen[ordinal] = runtime
        for ordinal, runtime in self.active.values():
            chosen[ordinal] = runtime
        context = {"event": event}
        for key, members in self._keys:
            try:
                value = key.evaluate(context)
                hash(value)
            except (EvaluationError, TypeError):
                value = None
            if value is None:  # offered: they report the drop
                for ordinal, runtime in members:
                    chosen[ordinal] = runtime
        if not chosen:
            return [runtime for _, runtime in plain]
        merged = sorted([*plain, *chosen.items()], key=_first)
        return [runtime for _, runtime in merged]


def _first(item: tuple[int, Any]) -> int:
    return item[0]
