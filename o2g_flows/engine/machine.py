"""Flows as ``transitions`` machines: one machine per flow, one lean model per execution.

Measured in ``library-notes.md``: a machine per key costs ~44 KB, a shared machine with
``add_model`` ~12 KB per model (about forty bound helper partials) and scans a list on
every add and remove. Executions are created and dropped at call rate, so ``FlowMachine``
binds nothing to its models and keeps no list of them: creating or ending an execution
is O(1) and costs no memory beyond the execution itself. Triggers are fired by name
through ``machine.events[name].trigger(model, context)``, the same path
``model.trigger(name)`` takes, so conditions, ``before``/``after`` callbacks, state
``on_enter``/``on_exit`` and final states behave as documented by ``transitions``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transitions import Machine

from .model import END, Flow, Handler, State, Step

__all__ = ["START", "FlowMachine", "build_machine", "timer_trigger"]

START = "<start>"
GOTO = "<goto>"

# transitions logs every callback at INFO; keep an INFO console readable
logging.getLogger("transitions").setLevel(logging.WARNING)


class FlowMachine(Machine):
    """A ``Machine`` whose models are never bound to it nor listed by it.

    ``add_model`` only sets the initial state and ``remove_model`` does nothing: no
    per-model partials (``is_<state>``, ``to_<state>``, trigger methods), no O(n) list.
    """

    def add_model(self, model: Any, initial: Any = None) -> None:
        models = model if isinstance(model, list) else [model]
        for item in models:
            self.set_state(initial or self.initial, model=item)

    def remove_model(self, model: Any) -> None:
        """Nothing to undo: the machine holds no reference to its models."""


def timer_trigger(index: int) -> str:
    return f"<after:{index}>"


def start_trigger(index: int) -> str:
    return f"<start:{index}>"


def error_trigger(state: str) -> str:
    return f"<error:{state}>"


class _When:
    """A handler's condition, evaluated by transitions and recorded in the trace."""

    __slots__ = ("evaluate",)

    def __init__(self, handler: Handler, evaluate: Callable[[Any, Handler, Any], bool]) -> None:
        self.evaluate = lambda event_data: evaluate(event_data.model, handler, event_data.args[0])

    def __call__(self, event_data: Any) -> bool:
        return self.evaluate(event_data)


class _Plan:
    """Queue a list of actions on the execution (they run once the transition is done)."""

    __slots__ = ("steps",)

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def __call__(self, event_data: Any) -> None:
        event_data.model.plan.extend(self.steps)


def build_machine(
    flow: Flow,
    *,
    check: Callable[[Any, Handler, Any], bool],
    on_enter: Callable[[Any, State], None],
    on_exit: Callable[[Any, State], None],
    on_change: Callable[[Any], None],
) -> FlowMachine:
    """The machine of ``flow``; the callbacks connect it to the runtime.

    ``check(execution, handler, context)`` evaluates a condition, ``on_enter(execution,
    state)`` and ``on_exit`` run with a state entered or left that has actions or timers,
    ``on_change(event_data)`` records a transition.
    """
    states: list[dict[str, Any]] = [{"name": START}]
    for state in flow.states.values():
        # callbacks only where there is something to do: each one costs every transition
        entry: dict[str, Any] = {"name": state.name}
        if state.enter or state.after:
            entry["on_enter"] = [_bind(on_enter, state)]
        if state.exit or state.after:
            entry["on_exit"] = [_bind(on_exit, state)]
        states.append(entry)
    states.append({"name": END, "final": True})
    machine = FlowMachine(
        model=None,
        states=states,
        initial=START,
        auto_transitions=False,
        send_event=True,
        after_state_change=[on_change],
    )
    for index, handler in enumerate(flow.start):
        machine.add_transition(
            start_trigger(index), START, handler.goto or END, before=_plan(handler.do)
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
                    before=_plan(handler.do),
                )
        for index, timer in enumerate(state.after):
            machine.add_transition(
                timer_trigger(index), state.name, timer.goto, before=_plan(timer.do)
            )
        if state.goto:
            machine.add_transition(GOTO, state.name, state.goto)
    for target in _error_targets(flow):
        sources = [name for name in flow.states if name != target] + [END]
        if sources:
            machine.add_transition(error_trigger(target), sources, target)
    return machine


def _plan(steps: list[Step]) -> list[_Plan] | None:
    return [_Plan(steps)] if steps else None


def _bind(callback: Callable[[Any, Any], None], state: State | None) -> Callable[[Any], None]:
    return lambda event_data: callback(event_data.model, state)


def _error_targets(flow: Flow) -> set[str]:
    steps: list[Step] = [s for h in flow.start for s in h.do]
    for state in flow.states.values():
        steps.extend(state.enter)
        steps.extend(state.exit)
        steps.extend(s for hs in state.on.values() for h in hs for s in h.do)
        steps.extend(s for t in state.after for s in t.do)
    return {step.error_goto for step in steps if step.error_goto}
