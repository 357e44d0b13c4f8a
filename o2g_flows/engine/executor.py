"""Running one step: its guard, its arguments rendered and checked, the action, the outcome.

``StepRunner.run`` is all the engine calls: it returns what the execution does next
(``ok``, ``skipped``, or the step's ``on_error`` choice) and tells the observers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .actions import FOR_EACH, MAX_FOR_EACH, ActionContext, check_type, describe_type
from .expressions import Dynamic, EvaluationError, render, truthy
from .gateway import ActionError, Gateway, error_details
from .model import Flow, Step
from .observer import Observer
from .state import Execution
from .timers import Clock, VirtualClock

__all__ = ["StepRunner"]

log = logging.getLogger("o2g_flows.engine")


class StepRunner:
    """Runs the steps of executions through a gateway, telling an observer about each."""

    def __init__(
        self,
        gateway: Gateway,
        clock: Clock,
        observe: Observer,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        self.gateway = gateway
        self.clock = clock
        self.observe = observe
        self.emit = emit

    async def run(
        self, flow: Flow, execution: Execution, step: Step, context: dict[str, Any]
    ) -> str:
        """Run one action; returns ``ok``, ``skipped``, ``continue``, ``stop`` or ``goto``."""
        observe = self.observe
        if step.guard is not None:
            passed, value = await self._guard(execution, step, context)
            observe.condition(self.clock.time(), execution, f"guard {step.guard.source}", value)
            if not passed:
                observe.skipped(self.clock.time(), execution, step.name, "guard is false")
                return "skipped"
        if step.name == FOR_EACH:
            return await self._for_each(flow, execution, step, context)
        attempts = step.retry.attempts if step.retry else 1
        for attempt in range(1, attempts + 1):
            outcome, error = await self._attempt(flow, execution, step, context)
            if error is None or step.retry is None or attempt == attempts:
                return outcome
            if not step.retry.covers(error):
                return outcome
            delay = step.retry.delay
            text = f"{step.name} failed ({error['message']}): attempt {attempt + 1} of "
            observe.note(self.clock.time(), execution, f"{text}{attempts} in {delay:g}s")
            await self._wait(delay)
        return "ok"  # not reached: the last attempt returns

    async def _wait(self, seconds: float) -> None:
        """Wait between two attempts; on a virtual clock the time passes at once."""
        if isinstance(self.clock, VirtualClock):
            self.clock.now += seconds
        else:
            await asyncio.sleep(seconds)

    async def _attempt(
        self, flow: Flow, execution: Execution, step: Step, context: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        """Run the action once: the outcome, and the error when it failed."""
        observe = self.observe
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
            ctx = ActionContext(execution, self.gateway, self.emit, log, step.name, context, flow)
            result = await step.action.run(ctx, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            details = exc.details if isinstance(exc, ActionError) else error_details(exc)
            error = {"message": str(exc) or type(exc).__name__, **details}
            ms = (time.perf_counter() - started) * 1000
            observe.action(self.clock.time(), execution, step.name, args, False, error, ms)
            return step.on_error, error
        ms = (time.perf_counter() - started) * 1000
        observe.action(self.clock.time(), execution, step.name, args, True, result, ms)
        if step.result_var:
            execution.set_vars({step.result_var: result}, flow.vars)
        return "ok", None

    async def _for_each(
        self, flow: Flow, execution: Execution, step: Step, context: dict[str, Any]
    ) -> str:
        """Run ``do`` for each item (its name set in the context); a failing inner action
        that stops stops the loop and the execution's actions."""
        args: dict[str, Any] = {"as": step.args["as"]}
        try:
            items = render(step.args["items"], context)
            if items is None:
                items = []
            if not isinstance(items, list):
                raise ActionError(f"for_each: items must be a list, got {items!r}")
            if len(items) > MAX_FOR_EACH:
                raise ActionError(f"for_each: {len(items)} items, over the limit of {MAX_FOR_EACH}")
        except (EvaluationError, ActionError) as exc:
            error = {"message": str(exc)}
            self.observe.action(self.clock.time(), execution, step.name, args, False, error, 0.0)
            return step.on_error
        args["items"] = len(items)
        self.observe.action(self.clock.time(), execution, step.name, args, True, None, 0.0)
        for item in items:
            inner = {**context, step.args["as"]: item}
            for sub in step.args["do"]:
                outcome = await self.run(flow, execution, sub, inner)
                if outcome == "stop":
                    return "stop"
        return "ok"

    async def _guard(
        self, execution: Execution, step: Step, context: dict[str, Any]
    ) -> tuple[bool, Any]:
        """A step's guard, with ``call`` or ``agent`` fetched fresh from O2G if it reads them."""
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
