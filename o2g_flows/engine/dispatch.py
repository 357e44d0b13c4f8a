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
    from .observer import Observer
    from .runtime import FlowRuntime, Run
    from .timers import Clock

__all__ = ["Index", "Lifecycle", "UsersFilter", "offer"]


class Lifecycle(Protocol):
    """What ``offer`` asks of the engine."""

    explain: bool
    observe: Observer
    clock: Clock

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


class UsersFilter:
    """Stands, among the listeners of an event without ``loginName``, for a flow whose
    ``users:`` filter cannot pass it: ``offer`` reports the drop."""

    __slots__ = ("flow",)

    def __init__(self, runtime: FlowRuntime) -> None:
        self.flow = runtime.flow


class _Listeners:
    """The flows listening to one event name: for any user, per user (both merged), and
    for an event naming no user (``anonymous``: everyone's, and the filtered ones' drops)."""

    __slots__ = ("anonymous", "by_user", "everyone")

    def __init__(self) -> None:
        self.everyone: list[FlowRuntime] = []
        self.by_user: dict[str, list[FlowRuntime]] = {}
        self.anonymous: list[FlowRuntime | UsersFilter] = []

    def add(self, runtime: FlowRuntime, users: frozenset[str] | None) -> None:
        if users is None:
            self.everyone.append(runtime)
            self.anonymous.append(runtime)
            for runtimes in self.by_user.values():
                runtimes.append(runtime)
            return
        self.anonymous.append(UsersFilter(runtime))
        for user in users:
            self.by_user.setdefault(user, list(self.everyone)).append(runtime)


class Index:
    """The flows listening to each event name, for every user or for some."""

    def __init__(self, runtimes: Iterable[FlowRuntime] = ()) -> None:
        self._by_name: dict[str, _Listeners] = {}
        for runtime in runtimes:
            for name in runtime.flow.events():
                self._by_name.setdefault(name, _Listeners()).add(runtime, runtime.flow.users)

    def listeners(self, name: Any, login: Any) -> list[Any]:
        """The flows an event named ``name`` for the user ``login`` concerns (for an event
        without a user, a ``UsersFilter`` stands for each flow its ``users:`` keeps out)."""
        listeners = self._by_name.get(name)
        if listeners is None:
            return []
        if isinstance(login, str):
            return listeners.by_user.get(login, listeners.everyone)
        return listeners.anonymous

    def names(self) -> set[str]:
        """Every event name some flow listens to."""
        return set(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def offer(engine: Lifecycle, runtime: FlowRuntime, event: dict[str, Any], name: str) -> None:
    """Hand ``event`` to the flow: its key's live executions, then its start handlers.

    An event some live execution of the key received is not offered to the start handlers
    of a ``single`` flow: an event that ends an execution does not start the next one.
    """
    flow = runtime.flow
    if runtime.__class__ is UsersFilter:
        users = ", ".join(sorted(flow.users or ()))
        _drop(engine, flow.name, event, f"it names no user (loginName) and users: admits {users}")
        return
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
    except EvaluationError as exc:
        _drop(engine, flow.name, event, f"its key failed: {exc}")
        return
    except TypeError:
        _drop(engine, flow.name, event, f"its key {flow.key.source} is not a single value")
        return
    if key is None:
        _drop(engine, flow.name, event, f"its key {flow.key.source} is null for this event")
        return
    if current is not None:  # a tuple: runs ending as they handle the event do not change it
        for run in current:
            engine.deliver(run, event, name)
    starts = runtime.starts.get(name)
    if not starts:
        return
    if current is not None and flow.mode == "single":
        if key in runtime.live:
            runtime.skipped += 1
            if name not in runtime.handled_anywhere:  # not one its live execution takes
                reason = f"an execution for {key} is running (mode: single)"
                _drop(engine, flow.name, event, reason)
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


def _drop(engine: Lifecycle, flow: str, event: dict[str, Any], reason: str) -> None:
    engine.observe.dropped(engine.clock.time(), flow, event, reason)
