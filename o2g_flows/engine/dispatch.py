"""Which flows an event concerns, and what it does there: reach a live execution, or start one.

``Index`` finds the flows listening to an event by its name, then by its user (a flow's
``users:``), so an event costs nothing for the flows that do not listen to it; among the
flows for every user, those whose start conditions cannot pass are left out
(``condition_index``). ``offer``
computes the flow's key, hands the event to the key's live executions, and tries the
flow's start handlers in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .condition_index import MIN_INDEXED, ConditionIndex
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

    __slots__ = ("flow", "runtime")

    def __init__(self, runtime: FlowRuntime) -> None:
        self.flow = runtime.flow
        self.runtime = runtime


class _Listeners:
    """The flows listening to one event name: for any user, per user (both merged), and
    for an event naming no user (``anonymous``: everyone's, and the filtered ones' drops).

    Once ``finish`` has indexed the start conditions of the flows for any user (when
    there are enough of them), ``select`` offers only those an event may concern."""

    __slots__ = ("anonymous", "by_user", "conditions", "everyone", "ordinals", "plain")

    def __init__(self) -> None:
        self.everyone: list[FlowRuntime] = []
        self.by_user: dict[str, list[FlowRuntime]] = {}
        self.anonymous: list[FlowRuntime | UsersFilter] = []
        self.ordinals: dict[int, int] = {}
        self.conditions: ConditionIndex | None = None
        # with an index: the flows offered every event, as (ordinal, flow) in load order
        self.plain: dict[Any, list[tuple[int, Any]]] = {}

    def add(self, runtime: FlowRuntime, users: frozenset[str] | None, ordinal: int) -> None:
        self.ordinals[id(runtime)] = ordinal
        if users is None:
            self.everyone.append(runtime)
            self.anonymous.append(runtime)
            for runtimes in self.by_user.values():
                runtimes.append(runtime)
            return
        self.anonymous.append(UsersFilter(runtime))
        for user in users:
            self.by_user.setdefault(user, list(self.everyone)).append(runtime)

    def finish(self, name: str) -> None:
        """Index the start conditions of the flows for any user, if enough can be."""
        ordinals = self.ordinals
        index = ConditionIndex(name, [(ordinals[id(r)], r) for r in self.everyone])
        if len(index) < MIN_INDEXED:
            index.detach()
            return
        self.conditions = index
        skip = {id(runtime) for _, runtime in index.indexed}

        def plain(runtimes: list[Any]) -> list[tuple[int, Any]]:
            return [
                (ordinals[id(getattr(r, "runtime", r))], r) for r in runtimes if id(r) not in skip
            ]

        self.plain = {user: plain(runtimes) for user, runtimes in self.by_user.items()}
        self.plain[None] = plain(self.everyone)
        self.plain[_ANONYMOUS] = plain(self.anonymous)


_ANONYMOUS = object()  # ``plain``'s key for events naming no user


class Index:
    """The flows listening to each event name, for every user or for some.

    ``conditions`` (the default) indexes the start conditions of the flows for every user
    (``condition_index``); without it every listening flow is offered every event."""

    def __init__(self, runtimes: Iterable[FlowRuntime] = (), conditions: bool = True) -> None:
        self._by_name: dict[str, _Listeners] = {}
        for ordinal, runtime in enumerate(runtimes):
            runtime.watchers.clear()
            for name in runtime.flow.events():
                listeners = self._by_name.setdefault(name, _Listeners())
                listeners.add(runtime, runtime.flow.users, ordinal)
        if conditions:
            for name, listeners in self._by_name.items():
                listeners.finish(name)

    def listeners(self, name: Any, login: Any, event: dict[str, Any] | None = None) -> list[Any]:
        """The flows an event named ``name`` for the user ``login`` concerns (for an event
        without a user, a ``UsersFilter`` stands for each flow its ``users:`` keeps out).
        With ``event``, the flows its start conditions' index rules out are left out."""
        listeners = self._by_name.get(name)
        if listeners is None:
            return []
        conditions = listeners.conditions
        if conditions is not None and event is not None:
            if isinstance(login, str):
                plain = listeners.plain.get(login)
                if plain is None:
                    plain = listeners.plain[None]
            else:
                plain = listeners.plain[_ANONYMOUS]
            return conditions.select(event, plain)
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
