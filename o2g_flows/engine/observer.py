"""What happens in the engine, for whoever wants to know: traces, the console, tests, metrics.

The engine calls one ``Observer`` (``Observers`` fans out to several) at each step of an
execution; observers read what they are given and never reach into the engine. Every
method has a no-op default, so an observer implements only what it needs. ``at`` is the
engine clock's time (virtual in offline runs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .state import Execution

__all__ = ["LogObserver", "Observer", "Observers"]


class Observer:
    """Receives what happens to executions. Override the methods you need."""

    def started(self, at: float, execution: Execution, condition: tuple[str, Any] | None) -> None:
        """An execution started on ``execution.event``; ``condition`` is the start's, if any."""

    def restored(self, at: float, execution: Execution) -> None:
        """An execution was read back from the store at start."""

    def event(self, at: float, execution: Execution, name: str, event: dict[str, Any]) -> None:
        """A running execution received an event its state handles."""

    def condition(self, at: float, execution: Execution, source: str, result: Any) -> None:
        """A condition was evaluated (``result``: its truth, or ``error: ...``)."""

    def transition(
        self, at: float, execution: Execution, source: str, dest: str, cause: Any
    ) -> None:
        """The execution moved from ``source`` to ``dest`` (``cause``: event, timer, goto...)."""

    def timer(self, at: float, execution: Execution, label: str) -> None:
        """One of the state's ``after`` timers fired."""

    def action(
        self,
        at: float,
        execution: Execution,
        name: str,
        args: dict[str, Any],
        ok: bool,
        result: Any,
        ms: float,
    ) -> None:
        """An action ran: its arguments, whether it succeeded, its result or error."""

    def skipped(self, at: float, execution: Execution, name: str, reason: str) -> None:
        """An action was not run (its guard was false)."""

    def note(self, at: float, execution: Execution, text: str, failed: bool = False) -> None:
        """Something worth knowing about the execution; ``failed`` marks it as an error."""

    def ended(self, at: float, execution: Execution, outcome: str) -> None:
        """The execution is over (``ended``, ``restarted``, ``stopped``, ``crashed``...)."""

    def missed(self, at: float, flow: str, event: str, key: Any, source: str, value: Any) -> None:
        """A start condition was false (reported only by engines created with ``explain``)."""

    def flow_note(self, at: float, flow: str, text: str) -> None:
        """Something about a flow rather than one execution (reloads, missed schedules)."""

    def dropped(self, at: float, flow: str, event: dict[str, Any], reason: str) -> None:
        """An event the flow listens to did nothing there, and ``reason`` says why (no key,
        its ``users:`` filter, an execution already running for the key...)."""


_HOOKS = tuple(
    name for name, value in vars(Observer).items() if callable(value) and not name.startswith("_")
)


class Observers(Observer):
    """Several observers as one: each call goes to each observer that implements it."""

    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self._observers: list[Observer] = []
        for observer in observers:
            self.add(observer)

    def add(self, observer: Observer) -> None:
        """Start telling ``observer`` what happens."""
        self._observers.append(observer)
        self._bind()

    def remove(self, observer: Observer) -> None:
        """Stop telling ``observer``."""
        self._observers.remove(observer)
        self._bind()

    def __iter__(self) -> Any:
        return iter(self._observers)

    def _bind(self) -> None:
        # per hook, only the observers overriding it: a no-op default costs nothing
        for hook in _HOOKS:
            default = getattr(Observer, hook)
            targets = [
                getattr(observer, hook)
                for observer in self._observers
                if getattr(type(observer), hook) is not default
            ]
            setattr(self, hook, _fan_out(targets))


def _fan_out(targets: list[Any]) -> Any:
    if not targets:
        return _nothing
    if len(targets) == 1:
        return targets[0]

    def call(*args: Any) -> None:
        for target in targets:
            target(*args)

    return call


def _nothing(*args: Any) -> None:
    return None


class LogObserver(Observer):
    """One log line per start, transition, timer, action and end (INFO), failures at WARNING.

    Each record carries ``flow`` and ``key`` (and ``event`` for starts) as extra fields,
    which ``--log-format json`` writes as fields of their own.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("o2g_flows.engine")

    def _line(self, level: int, execution: Execution, text: str, **fields: Any) -> None:
        if self.log.isEnabledFor(level):
            extra = {"flow": execution.flow, "key": execution.key, **fields}
            self.log.log(level, "%s[%s] %s", execution.flow, execution.key, text, extra=extra)

    def started(self, at: float, execution: Execution, condition: tuple[str, Any] | None) -> None:
        name = execution.event.get("eventName")
        self._line(logging.INFO, execution, f"started by {name}", event=name)

    def restored(self, at: float, execution: Execution) -> None:
        self._line(logging.INFO, execution, f"restored in {execution.state}")

    def transition(
        self, at: float, execution: Execution, source: str, dest: str, cause: Any
    ) -> None:
        self._line(logging.INFO, execution, f"{source} -> {dest} ({cause})")

    def timer(self, at: float, execution: Execution, label: str) -> None:
        self._line(logging.INFO, execution, f"{label} in {execution.state}")

    def action(
        self,
        at: float,
        execution: Execution,
        name: str,
        args: dict[str, Any],
        ok: bool,
        result: Any,
        ms: float,
    ) -> None:
        if not ok:
            message = result.get("message") if isinstance(result, dict) else result
            self._line(logging.WARNING, execution, f"{name} failed: {message}")
        elif name != "log":
            self._line(logging.INFO, execution, f"{name}{_brief(args)} ok")

    def skipped(self, at: float, execution: Execution, name: str, reason: str) -> None:
        self._line(logging.INFO, execution, f"{name} skipped: {reason}")

    def note(self, at: float, execution: Execution, text: str, failed: bool = False) -> None:
        self._line(logging.WARNING if failed else logging.INFO, execution, text)

    def ended(self, at: float, execution: Execution, outcome: str) -> None:
        self._line(logging.INFO, execution, f"{outcome} in {execution.state}")

    def dropped(self, at: float, flow: str, event: dict[str, Any], reason: str) -> None:
        self.log.debug("%s: %s dropped: %s", flow, event.get("eventName"), reason)

    def flow_note(self, at: float, flow: str, text: str) -> None:
        self.log.info("%s: %s", flow, text, extra={"flow": flow})


def _brief(args: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in args.items() if v is not None and k != "user")
    return f" ({shown})" if shown else ""
