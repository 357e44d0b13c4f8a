"""The engine: dispatch by event name, one execution per key, run modes, actions, timers.

``Engine.dispatch(event)`` is synchronous: it finds the flows listening to the event's
name, computes each flow's key, and either hands the event to the live execution of that
key or starts one. Conditions and transitions run at once; actions run afterwards in a
task per busy execution. While an execution is busy its events wait in its inbox, so the
events of one key are handled in order while different keys proceed concurrently.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from .actions import ActionContext, check_type, describe_type
from .expressions import Dynamic, EvaluationError, render, truthy
from .gateway import ActionError, Gateway, error_details
from .machine import (
    GOTO,
    START,
    FlowMachine,
    build_machine,
    error_trigger,
    start_trigger,
    timer_trigger,
)
from .model import END, Flow, Handler, State, Step
from .registry import Registry
from .timers import Clock, SchedulerTimers, SystemClock, Timers, zone
from .trace import Trace, TraceStore

__all__ = ["Engine", "Execution", "FlowRuntime"]

log = logging.getLogger("o2g_flows.engine")

_MAX_GOTOS = 100
_SEEN_CALLS = 20_000  # call references remembered, so a snapshot does not start them again
_CALL_EVENTS = frozenset({"OnCallCreated", "OnCallModified", "OnCallRemoved"})
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Execution:
    """One live run of a flow for one key. ``state`` is set by the flow's machine."""

    __slots__ = (
        "busy",
        "cause",
        "done",
        "event",
        "inbox",
        "key",
        "login",
        "plan",
        "runtime",
        "serial",
        "state",
        "task",
        "timers",
        "trace",
        "vars",
        "visit",
    )

    def __init__(self, runtime: FlowRuntime, key: Any, serial: int, event: dict[str, Any]) -> None:
        self.runtime = runtime
        self.key = key
        self.serial = serial
        self.state = START
        self.event = event
        self.login = event.get("loginName")
        self.vars: dict[str, Any] | None = None
        self.plan: list[Step] = []  # a deque costs 600 bytes; plans hold a few steps
        self.inbox: deque[Any] | None = None
        self.timers: list[Any] | None = None
        self.visit = 0
        self.busy = False
        self.done = False
        self.cause: Any = None
        self.task: asyncio.Task[None] | None = None
        self.trace = Trace(runtime.flow.name, key, serial, runtime.engine.clock.time())

    @property
    def flow(self) -> Flow:
        """The flow this execution runs."""
        return self.runtime.flow

    def variables(self) -> dict[str, Any]:
        """``vars``: the flow's, with what ``set`` and ``as`` added (copied on first write)."""
        return self.runtime.flow.vars if self.vars is None else self.vars

    def set_vars(self, values: dict[str, Any]) -> None:
        """Set execution variables, leaving the flow's own ``vars`` untouched."""
        if self.vars is None:
            self.vars = dict(self.runtime.flow.vars)
        self.vars.update(values)

    def context(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """The expression context ``{event, key, state, vars, now}``."""
        runtime = self.runtime
        return {
            "event": self.event if event is None else event,
            "key": self.key,
            "state": self.state,
            "vars": self.variables(),
            "now": runtime.engine.now() if runtime.flow.uses_now else None,
        }

    def __repr__(self) -> str:
        return f"<Execution {self.runtime.flow.name}[{self.key}] {self.state}>"


class FlowRuntime:
    """A loaded flow with its machine and its live executions by key."""

    def __init__(self, flow: Flow, engine: Engine) -> None:
        self.flow = flow
        self.engine = engine
        self.machine: FlowMachine = build_machine(
            flow,
            check=engine._check,
            on_enter=engine._entered,
            on_exit=engine._left,
            on_change=engine._changed,
        )
        self.live: dict[Any, Any] = {}  # key -> Execution, or a list of them in parallel mode
        self.waiting: dict[Any, deque[tuple[int, dict[str, Any]]]] = {}
        self.starts: dict[str, list[tuple[int, Handler]]] = {}
        for index, handler in enumerate(flow.start):
            for name in handler.events:
                self.starts.setdefault(name, []).append((index, handler))
        self.handled: dict[str, frozenset[str]] = {
            state.name: frozenset(state.on) for state in flow.states.values()
        }
        self.handled_anywhere = frozenset().union(*self.handled.values())
        self.skipped = 0

    def executions(self) -> list[Execution]:
        """The flow's live executions."""
        found: list[Execution] = []
        for value in self.live.values():
            found.extend(value if isinstance(value, list) else (value,))
        return found


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


class Engine:
    """Runs loaded flows on events; talks to the world only through its ``gateway``."""

    def __init__(
        self,
        flows: Iterable[Flow],
        gateway: Gateway,
        *,
        registry: Registry | None = None,
        clock: Clock | None = None,
        timers: Timers | None = None,
        traces: TraceStore | None = None,
        timezone: str | tzinfo | None = None,
        explain: bool = False,
    ) -> None:
        self.gateway = gateway
        self.registry = registry or Registry.builtin()
        self.clock = clock or SystemClock()
        self.timers = timers or SchedulerTimers()
        self.traces = traces if traces is not None else TraceStore()
        self.timezone = zone(timezone)
        self.explain = explain
        self.misses: deque[tuple[Any, ...]] = deque(maxlen=1000)
        self.action_log: list[tuple[Any, ...]] | None = None
        self.flows: dict[str, FlowRuntime] = {}
        self._index: dict[str, _Listeners] = {}
        self._serial = itertools.count(1)
        self._running: set[Execution] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._now_cache: tuple[int, dict[str, Any]] = (-1, {})
        self._seen_calls: dict[Any, None] = {}
        for flow in flows:
            if flow.enabled:
                self.add_flow(flow)

    # -- flows --------------------------------------------------------------------------------

    def add_flow(self, flow: Flow) -> FlowRuntime:
        """Start running ``flow`` (enabled or not); a name already loaded is a ValueError."""
        if flow.name in self.flows:
            raise ValueError(f"flow {flow.name!r} is already loaded")
        runtime = FlowRuntime(flow, self)
        self.flows[flow.name] = runtime
        for name in flow.events():
            self._index.setdefault(name, _Listeners()).add(runtime, flow.users)
        return runtime

    def event_names(self) -> set[str]:
        """Every event name some loaded flow listens to."""
        return set(self._index)

    def users(self) -> set[str] | None:
        """The users whose events flows need; None when some flow listens to every user."""
        found: set[str] = set()
        for runtime in self.flows.values():
            if runtime.flow.users is None:
                return None
            found |= runtime.flow.users
        return found

    def executions(self, flow: str | None = None) -> list[Execution]:
        """The live executions (of one flow, or of all)."""
        runtimes = [self.flows[flow]] if flow is not None else list(self.flows.values())
        return [execution for runtime in runtimes for execution in runtime.executions()]

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> dict[str, Any]:
        """``now`` for expressions, in the engine's time zone (cached per second)."""
        epoch = int(self.clock.time())
        cached_at, value = self._now_cache
        if cached_at == epoch:
            return value
        moment = datetime.fromtimestamp(epoch, self.timezone)
        value = {
            "epoch": epoch,
            "iso": moment.isoformat(),
            "date": moment.strftime("%Y-%m-%d"),
            "time": moment.strftime("%H:%M:%S"),
            "hour": moment.hour,
            "minute": moment.minute,
            "weekday": _WEEKDAYS[moment.weekday()],
        }
        self._now_cache = (epoch, value)
        return value

    # -- dispatch -----------------------------------------------------------------------------

    def dispatch(self, event: dict[str, Any]) -> None:
        """Hand an event to every flow listening to its name and user (never raises)."""
        name = event.get("eventName")
        if name == "OnCallCreated":
            self._seen_calls[event.get("callRef")] = None
            if len(self._seen_calls) > _SEEN_CALLS:
                del self._seen_calls[next(iter(self._seen_calls))]
        elif name == "OnTelephonyState":
            self._reconcile_calls(event)
        listeners = self._index.get(name)  # type: ignore[arg-type]
        if listeners is None:
            return
        login = event.get("loginName")
        runtimes = (
            listeners.by_user.get(login, listeners.everyone)
            if isinstance(login, str)
            else listeners.everyone
        )
        for runtime in runtimes:
            self._offer(runtime, event, name)

    def _offer(self, runtime: FlowRuntime, event: dict[str, Any], name: str) -> None:
        flow = runtime.flow
        context = {
            "event": event,
            "key": None,
            "state": None,
            "vars": flow.vars,
            "now": self.now() if flow.uses_now else None,
        }
        try:
            key = flow.key.evaluate(context)
            current = runtime.live.get(key)
        except (EvaluationError, TypeError):  # TypeError: a key that cannot be hashed
            return
        if key is None:
            return
        if current is not None:
            if isinstance(current, list):
                for execution in list(current):
                    self._deliver(execution, event, name)
            else:
                self._deliver(current, event, name)
        starts = runtime.starts.get(name)
        if not starts:
            return
        context["key"] = key
        for index, handler in starts:
            when = handler.when
            if when is None:
                self._start(runtime, key, index, event, None)
                return
            try:
                value = when.evaluate(context)
                passed = truthy(value)
            except EvaluationError as exc:
                value, passed = f"error: {exc}", False
            if passed:
                self._start(runtime, key, index, event, (when.source, value))
                return
            if self.explain:
                self.misses.append((self.clock.time(), flow.name, name, key, when.source, value))

    def _start(
        self,
        runtime: FlowRuntime,
        key: Any,
        index: int,
        event: dict[str, Any],
        condition: tuple[str, Any] | None,
    ) -> None:
        flow = runtime.flow
        current = runtime.live.get(key)
        if current is not None:
            mode = flow.mode
            if mode == "restart":
                current.trace.add(self.clock.time(), "note", "restarted by a new event")
                self._finish(current, "restarted")
            elif mode == "queued":
                waiting = runtime.waiting.setdefault(key, deque())
                if len(waiting) >= flow.max:
                    runtime.skipped += 1
                    log.warning(
                        "%s[%s]: queue full (max %d), event dropped", flow.name, key, flow.max
                    )
                else:
                    waiting.append((index, event))
                return
            elif mode == "parallel":
                if len(current) >= flow.max:  # a list of them in this mode
                    runtime.skipped += 1
                    log.warning(
                        "%s[%s]: %d executions running (max), event dropped",
                        flow.name,
                        key,
                        flow.max,
                    )
                    return
            else:
                runtime.skipped += 1
                return
        execution = Execution(runtime, key, next(self._serial), event)
        trace = execution.trace
        now = trace.started
        trace.add(now, "event", event.get("eventName"), event)
        if condition is not None:
            trace.add(now, "condition", condition[0], truthy(condition[1]))
        if flow.mode != "parallel":
            runtime.live[key] = execution  # a restarted one has just been removed
        elif current is not None:
            current.append(execution)
        else:
            runtime.live[key] = [execution]
        if log.isEnabledFor(logging.INFO):
            log.info("%s[%s] started by %s", flow.name, key, event.get("eventName"))
        self._fire(execution, start_trigger(index), event.get("eventName"))
        self._settle(execution)

    def _deliver(self, execution: Execution, event: dict[str, Any], name: str) -> None:
        if execution.busy:
            # the state may change before the inbox is read: keep what any state handles
            if name in execution.runtime.handled_anywhere:
                if execution.inbox is None:
                    execution.inbox = deque()
                execution.inbox.append(event)
            return
        if name not in execution.runtime.handled.get(execution.state, ()):
            return
        self._handle(execution, event, name)
        self._settle(execution)

    def _handle(self, execution: Execution, event: dict[str, Any], name: str) -> None:
        execution.event = event
        execution.trace.add(self.clock.time(), "event", name, event)
        self._fire(execution, name, name, execution.context(event))

    def _fire(self, execution: Execution, trigger: str, cause: Any, context: Any = None) -> bool:
        """Fire ``trigger`` on the execution's machine; ``cause`` names it in the trace."""
        execution.cause = cause  # read by _changed, only during this transition
        return execution.runtime.machine.fire(execution, trigger, context)

    # -- machine callbacks --------------------------------------------------------------------

    def _check(self, execution: Execution, handler: Handler, context: Any) -> bool:
        when = handler.when
        assert when is not None
        try:
            value = when.evaluate(context)
            passed = truthy(value)
            result: Any = passed
        except EvaluationError as exc:
            passed, result = False, f"error: {exc}"
        execution.trace.add(self.clock.time(), "condition", when.source, result)
        return passed

    def _changed(self, event_data: Any) -> None:
        transition = event_data.transition
        if transition.dest is None:
            return
        execution: Execution = event_data.model
        cause = execution.cause
        execution.trace.add(
            self.clock.time(), "transition", transition.source, transition.dest, cause
        )
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s[%s] %s -> %s (%s)",
                execution.runtime.flow.name,
                execution.key,
                transition.source,
                transition.dest,
                cause,
            )

    def _entered(self, execution: Execution, state: State) -> None:
        execution.plan.extend(state.enter)
        if state.after:
            context = execution.context()
            handles = []
            for index, timer in enumerate(state.after):
                try:
                    delay = float(render(timer.delay, context))
                except (EvaluationError, ValueError, TypeError) as exc:
                    execution.trace.add(self.clock.time(), "note", f"timer {index} not set: {exc}")
                    execution.trace.failed = True
                    continue
                handles.append(
                    self.timers.call_at(
                        self.clock.time() + delay,
                        self._timer_fired,
                        execution.runtime.flow.name,
                        execution.key,
                        execution.serial,
                        execution.visit,
                        index,
                        delay,
                    )
                )
            execution.timers = handles

    def _left(self, execution: Execution, state: State) -> None:
        execution.visit += 1  # a timer of the state left, already queued, is now stale
        self._cancel_timers(execution)
        execution.plan.extend(state.exit)

    def _cancel_timers(self, execution: Execution) -> None:
        if execution.timers:
            for handle in execution.timers:
                self.timers.cancel(handle)
        execution.timers = None

    # -- timers -------------------------------------------------------------------------------

    def _timer_fired(
        self, flow: str, key: Any, serial: int, visit: int, index: int, delay: float
    ) -> None:
        runtime = self.flows.get(flow)
        execution = None
        if runtime is not None:
            current = runtime.live.get(key)
            for candidate in current if isinstance(current, list) else [current]:
                if candidate is not None and candidate.serial == serial:
                    execution = candidate
        if execution is None or execution.visit != visit:
            return
        if execution.busy:
            if execution.inbox is None:
                execution.inbox = deque()
            execution.inbox.append((visit, index, delay))
            return
        self._on_timer(execution, index, delay)
        self._settle(execution)

    def _on_timer(self, execution: Execution, index: int, delay: float) -> None:
        state = execution.runtime.flow.states.get(execution.state)
        if state is None or index >= len(state.after):
            return
        label = f"after {delay:g}s"
        execution.trace.add(self.clock.time(), "timer", label)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s[%s] %s in %s",
                execution.runtime.flow.name,
                execution.key,
                label,
                execution.state,
            )
        self._fire(execution, timer_trigger(index), label, execution.context())

    # -- running actions ----------------------------------------------------------------------

    def _settle(self, execution: Execution) -> None:
        """After a transition: run the planned actions, or finish, or wait for events."""
        if execution.done or execution.busy:
            return
        state = execution.runtime.flow.states.get(execution.state)
        if execution.plan or (state is not None and state.goto):
            execution.busy = True
            self._running.add(execution)
            self._idle.clear()
            execution.task = asyncio.get_running_loop().create_task(self._drive(execution))
        elif execution.state == END:
            self._finish(execution, "ended")

    async def _drive(self, execution: Execution) -> None:
        gotos = 0
        try:
            while not execution.done:
                if execution.plan:
                    step = execution.plan.pop(0)
                    outcome = await self._run_step(execution, step)
                    if execution.done:
                        return
                    if outcome == "stop":
                        execution.plan.clear()
                    elif outcome == "goto":
                        execution.plan.clear()
                        assert step.error_goto is not None
                        self._fire(
                            execution,
                            error_trigger(step.error_goto),
                            f"on_error of {step.name}",
                            execution.context(),
                        )
                    continue
                state = execution.runtime.flow.states.get(execution.state)
                if state is not None and state.goto:
                    gotos += 1
                    if gotos > _MAX_GOTOS:
                        execution.trace.add(
                            self.clock.time(),
                            "note",
                            f"stopped: more than {_MAX_GOTOS} goto in a row",
                        )
                        execution.trace.failed = True
                        self._finish(execution, "loop")
                        return
                    self._fire(execution, GOTO, "goto", execution.context())
                    continue
                if execution.state == END:
                    self._finish(execution, "ended")
                    return
                if not execution.inbox:
                    return
                gotos = 0
                item = execution.inbox.popleft()
                if isinstance(item, tuple):
                    visit, index, delay = item
                    if visit == execution.visit:
                        self._on_timer(execution, index, delay)
                else:
                    name = item["eventName"]
                    if name in execution.runtime.handled.get(execution.state, ()):
                        self._handle(execution, item, name)
        except asyncio.CancelledError:
            if not execution.done:
                self._finish(execution, "cancelled")
            raise
        except Exception as exc:  # a bug must not kill the engine; it kills this execution
            log.exception("%s[%s] crashed", execution.runtime.flow.name, execution.key)
            execution.trace.add(self.clock.time(), "note", f"crashed: {exc!r}")
            execution.trace.failed = True
            self._finish(execution, "crashed")
        finally:
            execution.busy = False
            execution.task = None
            self._running.discard(execution)
            if not self._running:
                self._idle.set()

    async def _run_step(self, execution: Execution, step: Step) -> str:
        """Run one action; returns ``ok``, ``skipped``, ``continue``, ``stop`` or ``goto``."""
        trace = execution.trace
        context = execution.context()
        if step.guard is not None:
            passed, value = await self._guard(execution, step, context)
            trace.add(self.clock.time(), "condition", f"guard {step.guard.source}", value)
            if not passed:
                trace.add(self.clock.time(), "skip", step.name, "guard is false")
                if log.isEnabledFor(logging.INFO):
                    log.info(
                        "%s[%s] %s skipped: guard %s is false",
                        execution.runtime.flow.name,
                        execution.key,
                        step.name,
                        step.guard.source,
                    )
                return "skipped"
        started = time.perf_counter()
        args: dict[str, Any] = {}
        try:
            for name, raw in step.args.items():
                value = render(raw, context)
                if isinstance(raw, Dynamic):
                    param = step.action.param(name)
                    if param is not None:
                        ok, value = check_type(param, value)
                        if not ok:
                            raise ActionError(
                                f"{name} must be {describe_type(param)}, got {value!r}"
                            )
                args[name] = value
            ctx = ActionContext(execution, self.gateway, self.emit, log, step.name, context)
            result = await step.action.run(ctx, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            details = exc.details if isinstance(exc, ActionError) else error_details(exc)
            error = {"message": str(exc) or type(exc).__name__, **details}
            ms = (time.perf_counter() - started) * 1000
            trace.add(self.clock.time(), "action", step.name, args, False, error, ms)
            trace.failed = True
            if self.action_log is not None:
                self.action_log.append((self.clock.time(), execution, step.name, args, False))
            log.warning(
                "%s[%s] %s failed: %s",
                execution.runtime.flow.name,
                execution.key,
                step.name,
                error["message"],
            )
            return step.on_error
        ms = (time.perf_counter() - started) * 1000
        trace.add(self.clock.time(), "action", step.name, args, True, result, ms)
        if self.action_log is not None:
            self.action_log.append((self.clock.time(), execution, step.name, args, True))
        if step.result_var:
            execution.set_vars({step.result_var: result})
        if log.isEnabledFor(logging.INFO) and step.action.name != "log":
            log.info(
                "%s[%s] %s%s ok",
                execution.runtime.flow.name,
                execution.key,
                step.name,
                _brief(args),
            )
        return "ok"

    async def _guard(
        self, execution: Execution, step: Step, context: dict[str, Any]
    ) -> tuple[bool, Any]:
        guard = step.guard
        assert guard is not None
        fresh = dict(context)
        try:
            if "call" in guard.names:
                ref = render(step.args.get("call"), context) or execution.key
                fresh["call"] = await self.gateway.fetch_call(
                    str(ref), render(step.args.get("user"), context) or execution.login
                )
            if "agent" in guard.names:
                login = render(step.args.get("user"), context) or execution.login
                fresh["agent"] = await self.gateway.fetch_agent(str(login))
            passed = truthy(guard.evaluate(fresh))
        except (EvaluationError, ActionError) as exc:
            return False, f"error: {exc}"
        return passed, passed

    def emit(self, event: dict[str, Any]) -> None:
        """Dispatch an event produced by a flow or a plugin (soon, not within the caller)."""
        self._pending += 1
        asyncio.get_running_loop().call_soon(self._emitted, event)

    def _emitted(self, event: dict[str, Any]) -> None:
        self._pending -= 1
        self.dispatch(event)

    # -- ending -------------------------------------------------------------------------------

    def _finish(self, execution: Execution, outcome: str) -> None:
        if execution.done:
            return
        execution.done = True
        self._cancel_timers(execution)
        runtime = execution.runtime
        current = runtime.live.get(execution.key)
        if isinstance(current, list):
            if execution in current:
                current.remove(execution)
            if not current:
                del runtime.live[execution.key]
        elif current is execution:
            del runtime.live[execution.key]
        trace = execution.trace
        trace.ended = self.clock.time()
        trace.outcome = outcome
        self.traces.archive(trace)
        if execution.task is not None and execution.task is not _current_task():
            execution.task.cancel()
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s[%s] %s in %s%s",
                runtime.flow.name,
                execution.key,
                outcome,
                execution.state,
                " (with errors)" if trace.failed else "",
            )
        waiting = runtime.waiting.get(execution.key)
        if waiting and execution.key not in runtime.live:
            index, event = waiting.popleft()
            if not waiting:
                del runtime.waiting[execution.key]
            self._start(runtime, execution.key, index, event, None)

    # -- after an event gap -------------------------------------------------------------------

    def snapshot_requests(self) -> list[tuple[str, str]]:
        """``(client method, login)`` snapshots that resynchronise the live executions.

        Call executions need ``telephony.request_snapshot`` (answered by OnTelephonyState,
        which ``dispatch`` reconciles), agent executions ``acd.request_snapshot`` and
        routing ones ``routing.request_snapshot`` (answered by the usual events).
        """
        wanted: set[tuple[str, str]] = set()
        for runtime in self.flows.values():
            events = runtime.flow.events()
            methods = []
            if events & _CALL_EVENTS:
                methods.append("telephony.request_snapshot")
            if "OnAgentStateChanged" in events:
                methods.append("acd.request_snapshot")
            if "OnRoutingStateChanged" in events:
                methods.append("routing.request_snapshot")
            for execution in runtime.executions():
                if isinstance(execution.login, str):
                    wanted.update((method, execution.login) for method in methods)
                    execution.trace.add(self.clock.time(), "note", "event gap: resynchronising")
        return sorted(wanted)

    def _reconcile_calls(self, event: dict[str, Any]) -> None:
        """Compare a user's calls in an OnTelephonyState with the call executions."""
        login = event.get("loginName")
        state = event.get("state") or {}
        calls = {
            call.get("callRef"): call for call in state.get("calls") or [] if isinstance(call, dict)
        }
        for runtime in self.flows.values():
            for execution in runtime.executions():
                if execution.login != login or execution.event.get("callRef") != execution.key:
                    continue
                call = calls.get(execution.key)
                if call is None:
                    synthetic = {
                        "eventName": "OnCallRemoved",
                        "loginName": login,
                        "callRef": execution.key,
                        "cause": "UNKNOWN",
                        "reconciled": True,
                    }
                elif _leg_states(call.get("legs")) != _leg_states(
                    execution.event.get("legs") or execution.event.get("modifiedLegs")
                ):
                    synthetic = {
                        "eventName": "OnCallModified",
                        "loginName": login,
                        "callRef": execution.key,
                        "callData": call.get("callData"),
                        "modifiedLegs": call.get("legs") or [],
                        "modifiedParticipants": call.get("participants") or [],
                        "reconciled": True,
                    }
                else:
                    continue
                execution.trace.add(
                    self.clock.time(),
                    "note",
                    f"reconciled: {synthetic['eventName']} from the snapshot",
                )
                self._deliver(execution, synthetic, synthetic["eventName"])
                if (
                    call is None
                    and not execution.done
                    and not execution.busy
                    and "OnCallRemoved" not in runtime.handled.get(execution.state, ())
                ):
                    self._finish(execution, "call gone")
        for ref, call in calls.items():
            if ref not in self._seen_calls:
                self.dispatch(
                    {
                        "eventName": "OnCallCreated",
                        "loginName": login,
                        "callRef": ref,
                        "callData": call.get("callData"),
                        "legs": call.get("legs") or [],
                        "participants": call.get("participants") or [],
                        "reconciled": True,
                    }
                )

    async def idle(self) -> None:
        """Wait until no execution has actions in flight and no emitted event is pending."""
        while self._running or self._pending:
            if self._running:
                await self._idle.wait()
            await asyncio.sleep(0)

    async def start(self) -> None:
        """Start the timers (call from the running loop)."""
        self.timers.start()

    async def stop(self) -> None:
        """Cancel running actions and timers; live executions end as ``stopped``."""
        for execution in self.executions():
            self._finish(execution, "stopped")
        await self.idle()
        self.timers.stop()


def _leg_states(legs: Any) -> tuple[Any, ...]:
    if not isinstance(legs, list):
        return ()
    return tuple(
        sorted(
            (str(leg.get("deviceId")), str(leg.get("state")))
            for leg in legs
            if isinstance(leg, dict)
        )
    )


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _brief(args: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in args.items() if v is not None and k != "user")
    return f" ({shown})" if shown else ""
