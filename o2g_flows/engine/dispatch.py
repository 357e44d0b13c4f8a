"""Which flows an event concerns, and what it does there: reach a live execution, or start one.

``Index`` finds the flows listening to an event by its name, then by its user (a flow's
``users:``), so an event costs nothing for the flows that do not listen to it. ``offer``
computes the flow's key, hands the event to the key's live executions, and tries the
flow's start handlers in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .expressions import EvaluationError, truthy

if TYPE_CHECKING:
    from .runtime import FlowRuntime, Run

__all__ = ["Index", "Lifecycle", "offer"]


class Lifecycle(Protocol):
    """What ``offer`` asks of the engine."""

    explain: bool

    def deliver(self, run: Run, event: dict[str, Any], name: str) -> None:
        """Hand an event to a live execution."""

    def begin(
        self,
        runtime: FlowRuntime,
        key: Any,
        index: int,
        event: dict[str, Any],
        condition: tuple[str, Any] | None,
    ) -> None:
        """Start an execution with start handler ``index`` (its run mode permitting)."""

    def now(self) -> dict[str, Any]:
        """``now`` for expressions."""

    def missed(self, flow: str, event: str, key: Any, source: str, value: Any) -> None:
        """A start condition was false (only called when ``explain`` is set)."""


class _Listeners:
    """The flows listening to one event name: for any user, and per user (both merged)."""

    __slots__ = ("by_user", "everyone")

    def __init__(self) -> None:
        self.everyone: list[FlowRuntime] = []
        self.by_user: dict[str, list[FlowRuntime]] = {}

    def add(self, runtime: FlowRuntime, users: frozenset[str] | None) -> None:
        if users is None:
            self.everyone.append(runtime)
            for runtimes in self.by_user.values():
                runtimes.append(runtime)
            return
        for user in users:
            self.by_user.setdefault(user, list(self.everyone)).append(runtime)


class Index:
    """The flows listening to each event name, for every user or for some."""

    def __init__(self, runtimes: Iterable[FlowRuntime] = ()) -> None:
        self._by_name: dict[str, _Listeners] = {}
        for runtime in runtimes:
            for name in runtime.flow.events():
                self._by_name.setdefault(name, _Listeners()).add(runtime, runtime.flow.users)

    def listeners(self, name: Any, login: Any) -> list[FlowRuntime]:
        """The flows an event named ``name`` for the user ``login`` concerns."""
        listeners = self._by_name.get(name)
        if listeners is None:
            return []
        if isinstance(login, str):
            return listeners.by_user.get(login, listeners.everyone)
        return listeners.everyone

    def names(self) -> set[str]:
        """Every event name some flow listens to."""
        return set(self._by_name)


def offer(engine: Lifecycle, runtime: FlowRuntime, event: dict[str, Any], name: str) -> None:
    """Hand ``event`` to the flow: its key's live executions, then its start handlers."""
    flow = runtime.flow
    context = {
        "event": event,
        "key": None,
        "state": None,
        "vars": flow.vars,
        "now": engine.now() if flow.uses_now else None,
    }
    try:
        key = flow.key.evaluate(context)
        current = runtime.live.get(key)
    except (EvaluationError, TypeError):  # TypeError: a key that cannot be hashed
        return
    if key is None:
        return
    if current is not None:  # a tuple: runs ending as they handle the event do not change it
        for run in current:
            engine.deliver(run, event, name)
    starts = runtime.starts.get(name)
    if not starts:
        return
    context["key"] = key
    for index, handler in starts:
        when = handler.when
        if when is None:
            engine.begin(runtime, key, index, event, None)
            return
        try:
            value = when.evaluate(context)
            passed = truthy(value)
        except EvaluationError as exc:
            value, passed = f"error: {exc}", False
        if passed:
            engine.begin(runtime, key, index, event, (when.source, passed))
            return
        if engine.explain:
            engine.missed(flow.name, name, key, when.source, value)
