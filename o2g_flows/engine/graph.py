"""A flow's machine as a Mermaid state diagram (``stateDiagram-v2``).

``mermaid(flow)`` is text any Mermaid renderer draws (GitHub, the status page); ``active``
highlights the states live executions are in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .model import END, Flow, Handler, Step

__all__ = ["mermaid"]

_UNSAFE = re.compile(r"[:;\n\r\"{}<>]")


def mermaid(flow: Flow, active: Iterable[str] = ()) -> str:
    """``stateDiagram-v2`` text of ``flow``; the ``active`` states are highlighted."""
    lines = ["stateDiagram-v2"]
    for handler in flow.start:
        lines.append(f"    [*] --> {_node(handler.goto or END)}: {_handler_label(handler)}")
    for state in flow.states.values():
        source = _node(state.name)
        for event, handlers in state.on.items():
            for handler in handlers:
                if handler.goto:
                    label = _label(event, handler.when is not None, handler.do)
                    lines.append(f"    {source} --> {_node(handler.goto)}: {label}")
        for timer in state.after:
            delay = timer.delay if isinstance(timer.delay, int | float) else _source(timer.delay)
            text = f"after {delay:g}s" if isinstance(delay, int | float) else f"after {delay}"
            if timer.goto:
                lines.append(f"    {source} --> {_node(timer.goto)}: {_clean(text)}")
            if timer.missed_goto:
                lines.append(f"    {source} --> {_node(timer.missed_goto)}: missed")
        if state.goto:
            lines.append(f"    {source} --> {_node(state.goto)}")
        for step in state.steps():
            if step.error_goto:
                lines.append(f"    {source} --> {_node(step.error_goto)}: {step.name} failed")
    highlighted = sorted(name for name in set(active) if name in flow.states)
    if highlighted:
        lines.append("    classDef active fill:#ffd54f,stroke:#8d6e00,font-weight:bold")
        lines.append(f"    class {','.join(_node(name) for name in highlighted)} active")
    return "\n".join(lines) + "\n"


def _node(state: str) -> str:
    return "[*]" if state == END else re.sub(r"\W", "_", state)


def _handler_label(handler: Handler) -> str:
    return _label(" or ".join(handler.events), handler.when is not None, handler.do)


def _label(event: str, conditional: bool, steps: list[Step]) -> str:
    text = event + (" [if]" if conditional else "")
    if steps:
        text += " / " + ", ".join(step.name for step in steps)
    return _clean(text)


def _source(template: Any) -> str:
    """The expression of a delay template (``vars.ring`` for ``${vars.ring}``)."""
    return " ".join(expression.source for expression in template.expressions())


def _clean(text: str) -> str:
    return _UNSAFE.sub(" ", text).strip()
