"""The engine: flows running on events, one execution per key, kept in a store.

``Engine.dispatch(event)`` is synchronous: it finds the flows listening to the event
(``dispatch.Index``), computes each flow's key, and either hands the event to the key's
live executions or starts one (``modes.admit`` applies the run mode). Conditions and
transitions run at once; the machine only changes the execution's data (``state.py``),
which is then put in the store. Actions run afterwards, in a task per busy execution,
each once the store holds the transition that planned it (``StepRunner``). While an
execution is busy its events and timers wait in its inbox, so the events of one key are
handled in order while different keys proceed concurrently.

On ``start`` the engine reads its store back (``restore``), arms the timers again and
fires those that came due while it was down within ``grace``; ``update`` swaps changed
flows between two events (hot reload); ``stop`` leaves what runs in the store. When a
shared store reports that another instance took it over (``FencingError``), the engine
steps down: it drops every run without writing or sending anything (``lost``,
``stepped_down``), and before each action it asks the store whether it may still act.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .condition_index import ConditionIndex
from .dispatch import Index, offer
from .executor import StepRunner
from .expressions import EvaluationError, render, truthy
from .gateway import Gateway
from .machine import (
    GOTO,
    FlowMachine,
    build_machine,
    jump_trigger,
    start_trigger,
    step_table,
    timer_trigger,
)
from .model import END, SCHEDULE_EVENT, Flow, Handler, State, Step
from .modes import admit, next_waiting
from .observer import Observer, Observers
from .reconcile import CallReconciler, snapshot_requests
from .registry import Registry
from .schedules import HORIZON, Schedules
from .state import START, Execution
from .store import FencingError, MemoryStore, Restored, Store, StoreError
from .timers import Clock, LoopTimers, SystemClock, Timers, zone
from .trace import TraceStore

__all__ = ["Engine", "FlowRuntime", "Run", "Update"]

log = logging.getLogger("o2g_flows.engine")

_MAX_GOTOS = 100
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Run:
    """The machinery driving one execution: its flow, inbox, task and timer handles."""

    __slots__ = (
        "busy",
        "done",
        "execution",
        "handles",
        "inbox",
        "runtime",
        "steps",
        "stored",
        "task",
    )

    def __init__(self, execution: Execution, runtime: FlowRuntime) -> None:
        self.execution = execution
        self.runtime = runtime
        self.steps = runtime.steps  # the table ``execution.plan`` indexes
        self.busy = False
        self.done = False
        self.stored = False
        self.inbox: deque[Any] | None = None
        self.handles: tuple[Any, ...] | None = None
        self.task: asyncio.Task[None] | None = None


class FlowRuntime:
    """A loaded flow with its machine, its step table and its live runs by key."""

    def __init__(self, flow: Flow, engine: Engine) -> None:
        self.flow = flow
        self.steps: list[Step] = step_table(flow)
        self.machine: FlowMachine = build_machine(
            flow, self.steps, check=engine._check, deadlines=engine._deadlines
        )
        self.live: dict[Any, tuple[Run, ...]] = {}  # several only in parallel mode
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
        self.watchers: list[ConditionIndex] = []  # told when ``live`` empties or fills

    def runs(self) -> list[Run]:
        """The flow's live runs."""
        return [run for runs in self.live.values() for run in runs]

    def add(self, run: Run) -> None:
        """Make ``run`` one of its key's live runs."""
        key = run.execution.key
        live = self.live
        if not live and self.watchers:
            live[key] = (run,)
            for watcher in self.watchers:
                watcher.note_live(self)
            return
        live[key] = (*live.get(key, ()), run)

    def discard(self, run: Run) -> None:
        """Take ``run`` off its key's live runs (if it is one of them)."""
        key = run.execution.key
        runs = self.live.get(key, ())
        if run in runs:
            left = tuple(other for other in runs if other is not run)
            if left:
                self.live[key] = left
            else:
                del self.live[key]
                if not self.live:
                    for watcher in self.watchers:
                        watcher.note_live(self)


@dataclass
class Update:
    """What ``Engine.update`` changed, by flow name."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class Engine:
    """Runs loaded flows on events; talks to the world only through its ``gateway``.

    ``store`` keeps executions across restarts (a ``MemoryStore`` keeps nothing);
    ``observers`` are told what happens (``traces`` is one of them); ``grace`` is how late
    a timer or schedule that came due while the engine was down may still fire at start;
    ``schedule_horizon`` is how far ahead a schedule is armed (offline runs on a virtual
    clock pass ``math.inf``). ``index_conditions`` indexes the start conditions of flows for
    every user (``condition_index``); off, or with ``explain``, every listening flow is
    offered every event and evaluates its conditions.
    """

    def __init__(
        self,
        flows: Iterable[Flow],
        gateway: Gateway,
        *,
        registry: Registry | None = None,
        clock: Clock | None = None,
        timers: Timers | None = None,
        traces: TraceStore | None = None,
        store: Store | None = None,
        observers: Iterable[Observer] = (),
        timezone: str | tzinfo | None = None,
        grace: float = 300.0,
        schedule_horizon: float = HORIZON,
        explain: bool = False,
        index_conditions: bool = True,
    ) -> None:
        self.gateway = gateway
        self.registry = registry or Registry.builtin()
        self.clock = clock or SystemClock()
        self.timers = timers or LoopTimers(self.clock)
        self.traces = traces if traces is not None else TraceStore()
        self.store = store or MemoryStore()
        self.store.on_failure = self._store_failed
        self._durable = self.store.durable
        self.observe = Observers([self.traces, *observers])
        self.timezone = zone(timezone)
        self.grace = grace
        self.explain = explain
        self._index_conditions = index_conditions and not explain
        self.flows: dict[str, FlowRuntime] = {}
        self._ids = itertools.count(1)
        self._steps = StepRunner(gateway, self.clock, self.observe, self.emit)
        self._calls = CallReconciler()
        self._running: set[Run] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._now_cache: tuple[int, dict[str, Any]] = (-1, {})
        self._stopping = False
        self.lost: FencingError | None = None  # set when another instance took over
        self.stepped_down = asyncio.Event()
        self._on_timer_due = self._timer_fired  # one bound method for every timer, not one each
        self.schedules = Schedules(
            self.timers,
            self.clock,
            self.deliver_to,
            marks=self.store,
            grace=grace,
            timezone=self.timezone,
            missed=self._schedule_missed,
            horizon=schedule_horizon,
        )
        for flow in flows:
            if flow.enabled:
                self.flows[flow.name] = FlowRuntime(flow, self)
        self._index = Index(self.flows.values(), self._index_conditions)

    # -- flows --------------------------------------------------------------------------------

    def update(self, flows: Iterable[Flow], replace_all: bool = False) -> Update:
        """Run exactly ``flows`` from now on: new ones start, missing ones stop (their
        executions end), changed ones (another digest, or all with ``replace_all``) replace
        the running version, their executions following the new version's ``on_reload``.
        Call it between two events."""
        wanted = {flow.name: flow for flow in flows if flow.enabled}
        update = Update()
        for name in [name for name in self.flows if name not in wanted]:
            runtime = self.flows.pop(name)
            self.schedules.remove(name)
            for run in runtime.runs():
                self._note(run, "its flow was removed")
                self._finish(run, "flow removed")
            update.removed.append(name)
        for name, flow in wanted.items():
            old = self.flows.get(name)
            if old is None:
                self.flows[name] = FlowRuntime(flow, self)
                update.added.append(name)
            elif replace_all or old.flow.digest != flow.digest:
                new = self.flows[name] = FlowRuntime(flow, self)
                for run in old.runs():
                    self._reload(run, new)
                update.changed.append(name)
            else:
                continue
            self.schedules.add(name, flow.schedules)
        if update:
            self._index = Index(self.flows.values(), self._index_conditions)
        return update

    def _reload(self, run: Run, runtime: FlowRuntime) -> None:
        """Move a run of a replaced flow to its new version, as ``on_reload`` says."""
        policy = runtime.flow.on_reload
        execution = run.execution
        if policy == "cancel":
            self._note(run, "cancelled: its flow was reloaded (on_reload: cancel)")
            self._finish(run, "reloaded")
        elif policy == "restart":
            self._note(run, "restarted: its flow was reloaded (on_reload: restart)")
            self._finish(run, "reloaded")
            first = execution.first
            offer(self, runtime, first, first.get("eventName"))
        elif execution.state not in runtime.flow.states and execution.state not in (START, END):
            self._note(run, f"ended: state {execution.state!r} is not in the new version")
            self._finish(run, "reloaded")
        else:
            self._adopt(run, runtime)
            self._note(run, f"now runs version {runtime.flow.digest} (on_reload: keep)")

    def _adopt(self, run: Run, runtime: FlowRuntime) -> None:
        """Make ``runtime`` the run's flow; a plan under way finishes on the old steps."""
        run.runtime.discard(run)
        runtime.add(run)
        run.runtime = runtime
        if not run.execution.plan:
            run.steps = runtime.steps
            run.execution.version = runtime.flow.digest
        self._put(run)

    def event_names(self) -> set[str]:
        """Every event name some loaded flow listens to."""
        return self._index.names()

    def listens_to(self, name: str) -> bool:
        """Whether some loaded flow listens to events named ``name``."""
        return name in self._index

    def users(self, events: Collection[str] | None = None) -> set[str] | None:
        """The users whose events flows need (counting only the flows that listen to one of
        ``events``, when given); None when such a flow listens to every user."""
        found: set[str] = set()
        for runtime in self.flows.values():
            listened = runtime.flow.events() - {SCHEDULE_EVENT}  # a schedule is for no user
            if events is not None:
                listened.intersection_update(events)
            if not listened:
                continue
            if runtime.flow.users is None:
                return None
            found |= runtime.flow.users
        return found

    def executions(self, flow: str | None = None) -> list[Execution]:
        """The live executions (of one flow, or of all)."""
        runtimes = [self.flows[flow]] if flow is not None else list(self.flows.values())
        return [run.execution for runtime in runtimes for run in runtime.runs()]

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
        if self.lost is not None:
            return  # stepped down: events are the active instance's
        name = event.get("eventName")
        if name == "OnCallCreated":
            ref = event.get("callRef")
            if ref.__hash__ is not None:  # a malformed (list) reference is no call to remember
                self._calls.saw(ref)
        elif name == "OnTelephonyState":
            runs = [run for runtime in self.flows.values() for run in runtime.runs()]
            self._calls.reconcile(event, runs, self._reconciled, self.dispatch)
        for runtime in self._index.listeners(name, event.get("loginName"), event):
            offer(self, runtime, event, name)  # type: ignore[arg-type]

    def deliver_to(self, flow: str, event: dict[str, Any]) -> None:
        """Hand an event to one flow only, whatever its ``users:`` (schedules use it)."""
        runtime = self.flows.get(flow)
        if runtime is not None:
            offer(self, runtime, event, event.get("eventName", SCHEDULE_EVENT))

    def _schedule_missed(self, flow: str, name: str, due: float) -> None:
        moment = datetime.fromtimestamp(due, self.timezone).isoformat()
        text = f"schedule {name} missed at {moment}, beyond the {self.grace:g}s grace"
        log.warning("%s: %s", flow, text)
        self.observe.flow_note(self.clock.time(), flow, text)

    def missed(self, flow: str, event: str, key: Any, source: str, value: Any) -> None:
        """Tell the observers that a start condition was false."""
        self.observe.missed(self.clock.time(), flow, event, key, source, value)

    def begin(
        self,
        runtime: FlowRuntime,
        key: Any,
        index: int,
        event: dict[str, Any],
        condition: tuple[str, Any] | None,
    ) -> None:
        """Start an execution of ``runtime``'s flow for ``key`` if its run mode permits."""
        if not admit(runtime, key, index, event, self._restarted):
            return
        flow = runtime.flow
        now = self.clock.time()
        execution = Execution(next(self._ids), flow.name, flow.digest, key, event, now)
        run = Run(execution, runtime)
        runtime.add(run)
        self.observe.started(now, execution, condition)
        self._fire(run, start_trigger(index), event.get("eventName"), self._context(run, event))
        self._settle(run)

    def _restarted(self, run: Run) -> None:
        self._note(run, "restarted by a new event")
        self._finish(run, "restarted")

    def deliver(self, run: Run, event: dict[str, Any], name: str) -> None:
        """Hand an event to a live execution (to its inbox while it is busy)."""
        if run.busy:
            # the state may change before the inbox is read: keep what any state handles
            if name in run.runtime.handled_anywhere:
                if run.inbox is None:
                    run.inbox = deque()
                run.inbox.append(event)
            return
        if name not in run.runtime.handled.get(run.execution.state, ()):
            return
        self._handle(run, event, name)
        self._settle(run)

    def _handle(self, run: Run, event: dict[str, Any], name: str) -> None:
        execution = run.execution
        execution.event = event
        self.observe.event(self.clock.time(), execution, name, event)
        self._fire(run, name, name, self._context(run, event))

    def _context(self, run: Run, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """The expression context ``{event, key, state, vars, now}`` of a run."""
        execution = run.execution
        flow = run.runtime.flow
        return {
            "event": execution.event if event is None else event,
            "key": execution.key,
            "state": execution.state,
            "vars": flow.vars if execution.vars is None else execution.vars,
            "now": self.now() if flow.uses_now else None,
        }

    def _fire(self, run: Run, trigger: str, cause: Any, context: Any) -> bool:
        """Fire ``trigger`` on the run's machine, then keep the change and arm its timers."""
        execution = run.execution
        source = execution.state
        route = run.runtime.machine.fire(execution, trigger, context)
        if route is None:
            return False
        if route.dest is not None:
            dest = execution.state
            self.observe.transition(self.clock.time(), execution, source, dest, cause)
            if run.handles or execution.deadlines:
                self._arm(run)
        if self._durable and (execution.state != END or execution.plan):
            self._put(run)
        return True

    def _put(self, run: Run) -> None:
        run.stored = True
        self.store.put(run.execution)

    # -- machine callbacks --------------------------------------------------------------------

    def _check(self, execution: Execution, handler: Handler, context: Any) -> bool:
        when = handler.when
        assert when is not None
        try:
            passed = truthy(when.evaluate(context))
            result: Any = passed
        except EvaluationError as exc:
            passed, result = False, f"error: {exc}"
        self.observe.condition(self.clock.time(), execution, when.source, result)
        return passed

    def _deadlines(
        self, execution: Execution, state: State, context: Any
    ) -> tuple[float | None, ...]:
        now = self.clock.time()
        deadlines: list[float | None] = []
        for index, timer in enumerate(state.after):
            try:
                deadlines.append(now + float(render(timer.delay, context)))
            except (EvaluationError, ValueError, TypeError) as exc:
                self.observe.note(now, execution, f"timer {index} not set: {exc}", True)
                deadlines.append(None)
        return tuple(deadlines)

    # -- timers -------------------------------------------------------------------------------

    def _arm(self, run: Run) -> None:
        """Cancel the timers of the state left, arm those of the state entered."""
        if run.handles:
            for handle in run.handles:
                self.timers.cancel(handle)
        run.handles = None
        execution = run.execution
        if execution.deadlines:
            visit, fired = execution.visit, self._on_timer_due
            run.handles = tuple(
                self.timers.call_at(deadline, fired, run, visit, index)
                for index, deadline in enumerate(execution.deadlines)
                if deadline is not None
            )

    def _timer_fired(self, run: Run, visit: int, index: int) -> None:
        """Timer ``index`` of the state entered at ``visit`` came due (its identity, with the
        execution's id, is what the store keeps: the deadlines of the current visit)."""
        if run.done or run.execution.visit != visit:
            return
        if run.busy:
            if run.inbox is None:
                run.inbox = deque()
            run.inbox.append((visit, index))
            return
        self._on_timer(run, index)
        self._settle(run)

    def _on_timer(self, run: Run, index: int) -> None:
        execution = run.execution
        state = run.runtime.flow.states.get(execution.state)
        if state is None or index >= len(state.after):
            return
        context = self._context(run)
        try:
            label = f"after {float(render(state.after[index].delay, context)):g}s"
        except (EvaluationError, ValueError, TypeError):
            label = f"after timer {index}"
        self.observe.timer(self.clock.time(), execution, label)
        self._fire(run, timer_trigger(index), label, context)

    # -- running actions ----------------------------------------------------------------------

    def _settle(self, run: Run) -> None:
        """After a transition: run the planned actions, or finish, or wait for events."""
        if run.done or run.busy:
            return
        execution = run.execution
        state = run.runtime.flow.states.get(execution.state)
        if execution.plan or (state is not None and state.goto):
            run.busy = True
            self._running.add(run)
            self._idle.clear()
            if self.store.settled(execution.id):
                self._launch(run)
            else:  # actions are sent once the transition that planned them is stored
                self.store.when_settled(lambda: self._launch(run))
        elif execution.state == END:
            self._finish(run, "ended")
        else:
            execution.rest()  # it waits for an event or a timer

    def _launch(self, run: Run) -> None:
        if run.done:
            self._ran(run)
        else:
            task = run.task = asyncio.get_running_loop().create_task(self._drive(run))
            task.add_done_callback(lambda _: self._cancelled_early(run, task))

    def _cancelled_early(self, run: Run, task: asyncio.Task[None]) -> None:
        """A task cancelled before it started never ran ``_drive``'s ``finally``."""
        if run.task is task:
            self._ran(run)

    def _ran(self, run: Run) -> None:
        run.busy = False
        run.task = None
        self._running.discard(run)
        if not self._running:
            self._idle.set()

    async def _drive(self, run: Run) -> None:
        execution = run.execution
        gotos = 0
        try:
            while not run.done:
                if execution.plan:
                    if not self.store.settled(execution.id):
                        await self.store.flush()
                        if run.done:
                            return
                    if not self.store.may_act():  # the lease may have passed on: ask
                        await self.store.confirm()
                        if run.done:
                            return
                    step = run.steps[execution.plan[0]]
                    outcome = await self._steps.run(
                        run.runtime.flow, execution, step, self._context(run)
                    )
                    if run.done:
                        return
                    execution.plan = execution.plan[1:]
                    if outcome in ("stop", "goto"):
                        execution.plan = ()
                    if not execution.plan:
                        self._caught_up(run)
                    if outcome == "goto":
                        assert step.error_goto is not None
                        cause = f"on_error of {step.name}"
                        self._fire(run, jump_trigger(step.error_goto), cause, self._context(run))
                    elif self._durable:
                        self._put(run)
                    continue
                state = run.runtime.flow.states.get(execution.state)
                if state is not None and state.goto:
                    gotos += 1
                    if gotos > _MAX_GOTOS:
                        self._note(run, f"stopped: more than {_MAX_GOTOS} goto in a row", True)
                        self._finish(run, "loop")
                        return
                    self._fire(run, GOTO, "goto", self._context(run))
                    continue
                if execution.state == END:
                    self._finish(run, "ended")
                    return
                if not run.inbox:
                    execution.rest()  # it waits for an event or a timer
                    return
                gotos = 0
                item = run.inbox.popleft()
                if isinstance(item, tuple):
                    visit, index = item
                    if visit == execution.visit:
                        self._on_timer(run, index)
                else:
                    name = item["eventName"]
                    if name in run.runtime.handled.get(execution.state, ()):
                        self._handle(run, item, name)
        except asyncio.CancelledError:
            if not run.done and not self._stopping:
                self._finish(run, "cancelled")
            raise
        except StoreError as exc:
            if not run.done:  # a lost lease has dropped every run already
                self._note(run, f"ended: its state could not be stored ({exc})", True)
                self._finish(run, "store failed")
        except Exception as exc:  # a bug must not kill the engine; it kills this execution
            log.exception("%s[%s] crashed", execution.flow, execution.key)
            self._note(run, f"crashed: {exc!r}", True)
            self._finish(run, "crashed")
        finally:
            self._ran(run)

    def _caught_up(self, run: Run) -> None:
        """A plan is done: a run of a replaced flow moves to the new version's steps."""
        if run.steps is not run.runtime.steps:
            run.steps = run.runtime.steps
            run.execution.version = run.runtime.flow.digest

    def emit(self, event: dict[str, Any]) -> None:
        """Dispatch an event produced by a flow or a plugin (soon, not within the caller)."""
        self._pending += 1
        asyncio.get_running_loop().call_soon(self._emitted, event)

    def _emitted(self, event: dict[str, Any]) -> None:
        self._pending -= 1
        self.dispatch(event)

    # -- ending -------------------------------------------------------------------------------

    def _note(self, run: Run, text: str, failed: bool = False) -> None:
        self.observe.note(self.clock.time(), run.execution, text, failed)

    def _finish(self, run: Run, outcome: str) -> None:
        """End a run: forget it here and in the store, tell the observers."""
        if run.done:
            return
        self._drop(run)
        if run.stored:
            self.store.remove(run.execution.id)
        self.observe.ended(self.clock.time(), run.execution, outcome)
        runtime = run.runtime
        waiting = next_waiting(runtime, run.execution.key)
        if waiting is not None:
            self.begin(runtime, run.execution.key, waiting[0], waiting[1], None)

    def _drop(self, run: Run) -> None:
        """Stop a run's machinery (timers, task) and take it off its flow's live runs."""
        run.done = True
        if run.handles:
            for handle in run.handles:
                self.timers.cancel(handle)
        run.handles = None
        run.runtime.discard(run)
        if run.task is not None and run.task is not _current_task():
            run.task.cancel()

    def _store_failed(self, ids: list[int], error: StoreError) -> None:
        if isinstance(error, FencingError):
            self._step_down(error)
            return
        failed = set(ids)
        for runtime in list(self.flows.values()):
            for run in runtime.runs():
                if run.execution.id in failed:
                    self._note(run, f"ended: its state could not be stored ({error})", True)
                    self._finish(run, "store failed")

    def _step_down(self, error: FencingError) -> None:
        """Another instance holds the store now: drop every run without writing or
        sending anything (the executions are the new active's) and stop the timers."""
        if self.lost is not None:
            return
        self.lost = error
        now = self.clock.time()
        for runtime in self.flows.values():
            for run in runtime.runs():
                self._drop(run)
                self.observe.ended(now, run.execution, "handed over")
        self.schedules.stop()
        self.timers.stop()
        self.stepped_down.set()

    # -- after a blind spell ------------------------------------------------------------------

    def snapshot_requests(self, named_users: bool = False) -> list[tuple[str, str]]:
        """``(client method, login)`` snapshots that resynchronise the live executions (and,
        with ``named_users``, the users flows name, as at start).

        Call executions need ``telephony.request_snapshot`` (answered by OnTelephonyState,
        which ``dispatch`` reconciles), agent executions ``acd.request_snapshot`` and
        routing ones ``routing.request_snapshot`` (answered by the usual events).
        """
        requests = []
        noted: set[int] = set()
        for method, login, runs in snapshot_requests(self.flows.values(), named_users):
            requests.append((method, login))
            for run in runs:
                if run.execution.id not in noted:
                    noted.add(run.execution.id)
                    self._note(run, "resynchronising with O2G")
        return requests

    def _reconciled(self, run: Run, event: dict[str, Any]) -> None:
        name = event["eventName"]
        self._note(run, f"reconciled: {name} from the snapshot")
        self.deliver(run, event, name)
        if (
            name == "OnCallRemoved"
            and not run.done
            and not run.busy
            and name not in run.runtime.handled.get(run.execution.state, ())
        ):
            self._finish(run, "call gone")

    # -- start and stop -----------------------------------------------------------------------

    async def start(self, restored: Restored | None = None) -> None:
        """Read the store back (unless ``restored`` is given), arm the timers again and
        resume the executions. Raises ``StoreError`` if the store cannot be used."""
        if restored is None:
            restored = await self.store.open()
        self._ids = itertools.count(restored.next_id)
        self.timers.start()
        for execution in restored.executions:
            self._restore(execution)
        for runtime in self.flows.values():
            if runtime.flow.schedules:
                self.schedules.add(runtime.flow.name, runtime.flow.schedules)

    def _restore(self, execution: Execution) -> None:
        now = self.clock.time()
        self.observe.restored(now, execution)
        runtime = self.flows.get(execution.flow)
        if runtime is None:
            text = f"ended: flow {execution.flow!r} is no longer loaded"
            self.observe.note(now, execution, text, True)
            self.observe.ended(now, execution, "flow removed")
            self.store.remove(execution.id)
            return
        run = Run(execution, runtime)
        run.stored = True
        runtime.add(run)
        if execution.version != runtime.flow.digest:
            if execution.plan:
                self._note(run, f"{len(execution.plan)} planned action(s) dropped: flow changed")
                execution.plan = ()
            self._reload(run, runtime)
            if run.done:
                return
        self._rearm_restored(run, now)
        if not run.done:
            self._settle(run)

    def _rearm_restored(self, run: Run, now: float) -> None:
        """Arm a restored run's timers; one overdue beyond the grace follows ``on_missed``."""
        execution = run.execution
        state = run.runtime.flow.states.get(execution.state)
        deadlines = list(execution.deadlines or ())
        if state is None:
            return
        for index, deadline in sorted(
            ((i, d) for i, d in enumerate(deadlines) if d is not None and i < len(state.after)),
            key=lambda item: item[1],
        ):
            if now - deadline <= self.grace:
                continue
            timer = state.after[index]
            self._note(run, f"timer {index} came due {now - deadline:.0f}s ago, beyond the grace")
            if timer.on_missed == "fire":
                continue
            deadlines[index] = None
            execution.deadlines = tuple(deadlines)
            if timer.on_missed == "goto" and timer.missed_goto:
                self._arm(run)
                self._fire(run, jump_trigger(timer.missed_goto), "missed timer", self._context(run))
            else:
                self._finish(run, "timer missed")
            return
        self._arm(run)

    async def idle(self) -> None:
        """Wait until no execution has actions in flight and no emitted event is pending."""
        while self._running or self._pending:
            if self._running:
                await self._idle.wait()
            await asyncio.sleep(0)

    async def stop(self, drain: float = 2.0) -> None:
        """Stop: let actions in flight finish for up to ``drain`` seconds, then cancel them.

        With a durable store the live executions stay in it (``suspended``) with their
        timers, for the next start; otherwise they end as ``stopped``.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain):
                await self.idle()
        self._stopping = True
        keep = self.store.durable
        if self.lost is not None:  # stepped down: nothing left to run or to write
            await self.store.close()
            return
        for runtime in self.flows.values():
            for run in runtime.runs():
                if keep:
                    self._drop(run)
                    self.observe.ended(self.clock.time(), run.execution, "suspended")
                else:
                    self._finish(run, "stopped")
        await self.idle()
        self.schedules.stop()
        self.timers.stop()
        self.store.set_meta("next_id", str(next(self._ids)))
        await self.store.close()


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
