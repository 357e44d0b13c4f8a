"""Flows as ``transitions`` machines: one machine per flow, one lean model per execution.

Measured in ``library-notes.md``: a machine per key costs ~44 KB, a shared machine with
``add_model`` ~12 KB per model (about forty bound helper partials) and scans a list on
every add and remove. Executions are created and dropped at call rate, so ``FlowMachine``
binds nothing to its models and keeps no list of them: creating or ending an execution
is O(1) and costs no memory beyond the execution itself.

The machine is defined with ``transitions`` (states, transitions, conditions, callbacks) and
``FlowMachine.fire`` runs it: the same steps as ``Event.trigger`` (conditions in order, the
first passing transition wins; ``before``, exit, state change, enter, ``on_final``,
``after``), read from the library's own ``Transition`` and ``State`` objects, but resolved
once per (state, trigger) instead of on every trigger. See ``FlowMachine.fire`` for why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transitions import Machine
from transitions.core import Event, EventData, Transition
from transitions.core import State as MachineState

from .model import END, Flow, Handler, State, Step
from .state import START, Execution

__all__ = [
    "GOTO",
    "START",
    "FlowMachine",
    "build_machine",
    "jump_trigger",
    "start_trigger",
    "step_table",
    "timer_trigger",
]

#: The trigger of a state's immediate ``goto``.
GOTO = "<goto>"

# transitions logs every callback at INFO; keep an INFO console readable
logging.getLogger("transitions").setLevel(logging.WARNING)


class FlowMachine(Machine):
    """A ``Machine`` whose models are never bound to it nor listed by it.

    ``add_model`` only sets the initial state and ``remove_model`` does nothing: no
    per-model partials (``is_<state>``, ``to_<state>``, trigger methods), no O(n) list.
    """

    _routes: dict[str, dict[str, tuple[_Route, ...]]] | None = None  # by state, trigger

    def add_model(self, model: Any, initial: Any = None) -> None:
        """Set the model's (or each model's) initial state; nothing is bound or listed."""
        models = model if isinstance(model, list) else [model]
        for item in models:
            self.set_state(initial or self.initial, model=item)

    def remove_model(self, model: Any) -> None:
        """Nothing to undo: the machine holds no reference to its models."""

    def prepare(self) -> None:
        """Resolve every (state, trigger) to its transitions, ready for ``fire``.

        Call it once the states, transitions and callbacks are all added (``build_machine``
        does): later changes are not seen by ``fire`` until it is called again. Raises
        ``ValueError`` if the machine uses a feature ``fire`` does not mirror.
        """
        unsupported = _unsupported(self)
        if unsupported:
            raise ValueError(f"FlowMachine.fire does not support {unsupported}")
        routes: dict[str, dict[str, tuple[_Route, ...]]] = {name: {} for name in self.states}
        for trigger, event in self.events.items():
            for source, transitions in event.transitions.items():
                if transitions:
                    routes.setdefault(source, {})[trigger] = tuple(
                        _Route(self, event, transition) for transition in transitions
                    )
        self._routes = routes

    def fire(self, model: Any, trigger: str, *args: Any) -> _Route | None:
        """Fire ``trigger`` on ``model``: the route taken, or None if no transition was made.

        Equivalent to ``self.events[trigger].trigger(model, *args)`` for the machines the
        engine builds (``tests/engine/test_machine.py`` compares both, callback by callback),
        except that a trigger the model's state does not handle returns None. Why not call
        ``Event.trigger``: it costs about half of the engine's dispatch time, most of it
        spent on work the engine does not need on every event (a ``partial`` and the queue
        check in ``Machine._process``, looking up states by name, resolving each callback
        in ``Machine.resolve_callable``, a dozen ``_LOGGER.debug``/``info`` calls).
        ``prepare`` does the lookups and resolutions once.
        """
        if self._routes is None:
            raise RuntimeError("FlowMachine.fire: call prepare() once the machine is built")
        by_trigger = self._routes.get(model.state)
        routes = by_trigger.get(trigger) if by_trigger is not None else None
        if routes is None:
            return None
        first = routes[0]
        event_data = EventData(first.source, first.event, self, model, args, {})
        for route in routes:
            event_data.transition = route.transition
            for func, target in route.conditions:
                if func(event_data) != target:
                    break
            else:
                for func in route.before:
                    func(event_data)
                if route.dest is not None:
                    for func in route.exit:
                        func(event_data)
                    model.state = route.value
                    event_data.state = route.dest
                    for func in route.enter:
                        func(event_data)
                for func in route.after:
                    func(event_data)
                event_data.result = True
                return route
        return None


class _Route:
    """One library ``Transition`` with its states and callbacks resolved for ``fire``."""

    __slots__ = (
        "after",
        "before",
        "conditions",
        "dest",
        "enter",
        "event",
        "exit",
        "source",
        "transition",
        "value",
    )

    def __init__(self, machine: Machine, event: Event, transition: Transition) -> None:
        self.event = event
        self.transition = transition
        self.source: MachineState = machine.get_state(transition.source)
        self.conditions = tuple((cond.func, cond.target) for cond in transition.conditions)
        # the order of Transition.execute and Transition._change_state
        self.before = (*machine.before_state_change, *transition.before)
        self.dest: MachineState | None = None
        self.value: Any = None  # the destination's value, as Machine.set_state stores it
        self.exit: tuple[Callable[[EventData], Any], ...] = ()
        self.enter: tuple[Callable[[EventData], Any], ...] = ()
        if transition.dest is not None:
            self.dest = machine.get_state(transition.dest)
            self.value = self.dest.value
            self.exit = tuple(self.source.on_exit)
            self.enter = (*self.dest.on_enter, *(machine.on_final if self.dest.final else ()))
        self.after = (*transition.after, *machine.after_state_change)


def _unsupported(machine: Machine) -> str | None:
    """The first feature of ``machine`` that ``FlowMachine.fire`` does not mirror."""
    if machine.has_queue:
        return "queued machines"
    if not machine.send_event:
        return "send_event=False"
    if machine.model_attribute != "state":
        return "a model_attribute other than 'state'"
    for name in ("prepare_event", "finalize_event", "on_exception"):
        if getattr(machine, name):
            return f"{name} callbacks"
    callbacks = [*machine.before_state_change, *machine.after_state_change, *machine.on_final]
    for state in machine.states.values():
        callbacks.extend((*state.on_enter, *state.on_exit))
    for event in machine.events.values():
        for transitions in event.transitions.values():
            for transition in transitions:
                if transition.prepare:
                    return "prepare callbacks of transitions"
                callbacks.extend((*transition.before, *transition.after))
                callbacks.extend(cond.func for cond in transition.conditions)
    if any(not callable(func) for func in callbacks):
        return "callbacks given by name"
    return None


def timer_trigger(index: int) -> str:
    """The trigger of the state's ``after`` timer number ``index``."""
    return f"<after:{index}>"


def start_trigger(index: int) -> str:
    """The trigger of the flow's start handler number ``index``."""
    return f"<start:{index}>"


def jump_trigger(state: str) -> str:
    """The trigger moving an execution to ``state`` from any other (an action's ``on_error:
    goto``, a missed timer's ``on_missed: goto``)."""
    return f"<jump:{state}>"


class _When:
    """A handler's condition, evaluated by transitions and recorded in the trace."""

    __slots__ = ("check", "handler")

    def __init__(self, handler: Handler, check: Callable[[Any, Handler, Any], bool]) -> None:
        self.handler = handler
        self.check = check

    def __call__(self, event_data: Any) -> bool:
        return self.check(event_data.model, self.handler, event_data.args[0])


class _Plan:
    """Queue actions on the execution, by their index in the flow's step table (they run once
    the transition is done)."""

    __slots__ = ("ids",)

    def __init__(self, ids: tuple[int, ...]) -> None:
        self.ids = ids

    def __call__(self, event_data: Any) -> None:
        model = event_data.model
        model.plan = (*model.plan, *self.ids)


class _Exit:
    """Leaving a state with actions or timers: a new visit (its timers are now stale)."""

    __slots__ = ("ids",)

    def __init__(self, ids: tuple[int, ...]) -> None:
        self.ids = ids

    def __call__(self, event_data: Any) -> None:
        execution: Execution = event_data.model
        execution.visit += 1
        execution.deadlines = None
        if self.ids:
            execution.plan = (*execution.plan, *self.ids)


class _Enter:
    """Entering a state with actions or timers: queue ``enter``, set the timers' deadlines."""

    __slots__ = ("deadlines", "ids", "state")

    def __init__(
        self,
        state: State,
        ids: tuple[int, ...],
        deadlines: Callable[[Execution, State, Any], tuple[float | None, ...]],
    ) -> None:
        self.state = state
        self.ids = ids
        self.deadlines = deadlines

    def __call__(self, event_data: Any) -> None:
        execution: Execution = event_data.model
        if self.ids:
            execution.plan = (*execution.plan, *self.ids)
        if self.state.after:
            execution.deadlines = self.deadlines(execution, self.state, event_data.args[0])


def step_table(flow: Flow) -> list[Step]:
    """Every action of the flow, each once, in a stable order: start handlers, then each
    state's ``enter``, ``exit``, handlers and timers. An execution's ``plan`` indexes it."""
    steps = [step for handler in flow.start for step in handler.do]
    for state in flow.states.values():
        steps.extend(state.steps())
    return steps


def build_machine(
    flow: Flow,
    steps: list[Step],
    *,
    check: Callable[[Any, Handler, Any], bool],
    deadlines: Callable[[Execution, State, Any], tuple[float | None, ...]],
) -> FlowMachine:
    """The machine of ``flow``, whose plans index ``steps`` (``step_table(flow)``).

    The machine changes only the execution's data (state, visit, plan, deadlines); the
    engine gives it two functions: ``check(execution, handler, context)`` evaluates a
    handler's condition, ``deadlines(execution, state, context)`` computes the deadlines
    of a state's ``after`` timers as it is entered. Every trigger is fired with the
    expression context as its one argument.
    """
    index = {id(step): n for n, step in enumerate(steps)}

    def ids(items: list[Step]) -> tuple[int, ...]:
        return tuple(index[id(step)] for step in items)

    def plan(items: list[Step]) -> list[_Plan] | None:
        return [_Plan(ids(items))] if items else None

    states: list[dict[str, Any]] = [{"name": START}]
    for state in flow.states.values():
        # callbacks only where there is something to do: each one costs every transition
        entry: dict[str, Any] = {"name": state.name}
        if state.enter or state.after:
            entry["on_enter"] = [_Enter(state, ids(state.enter), deadlines)]
        if state.exit or state.after:
            entry["on_exit"] = [_Exit(ids(state.exit))]
        states.append(entry)
    states.append({"name": END, "final": True})
    machine = FlowMachine(
        model=None,
        states=states,
        initial=START,
        auto_transitions=False,
        send_event=True,
    )
    for number, handler in enumerate(flow.start):
        machine.add_transition(
            start_trigger(number), START, handler.goto or END, before=plan(handler.do)
        )
    for state in flow.states.values():
        for event, handlers in state.on.items():
            for handler in handlers:
                conditions = [_When(handler, check)] if handler.when is not None else None
                machine.add_transition(
                    event,
                    state.name,
                    handler.goto,
                    conditions=conditions,
                    before=plan(handler.do),
                )
        for number, timer in enumerate(state.after):
            machine.add_transition(
                timer_trigger(number), state.name, timer.goto, before=plan(timer.do)
            )
        if state.goto:
            machine.add_transition(GOTO, state.name, state.goto)
    for target in _jump_targets(flow):
        sources = [name for name in flow.states if name != target] + [END]
        machine.add_transition(jump_trigger(target), sources, target)
    machine.prepare()
    return machine


def _jump_targets(flow: Flow) -> set[str]:
    """The states an action's ``on_error: goto`` or a timer's ``on_missed: goto`` lead to."""
    targets = {step.error_goto for step in step_table(flow) if step.error_goto}
    for state in flow.states.values():
        targets.update(timer.missed_goto for timer in state.after if timer.missed_goto)
    return targets
