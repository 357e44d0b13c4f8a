"""Run modes: what a start does when its key already has a live execution.

- ``single`` (default): the new start is skipped;
- ``restart``: the live execution ends (``restarted``) and a new one starts;
- ``queued``: the start waits (up to ``max``) until the live one ends;
- ``parallel``: several executions run side by side for the key (up to ``max``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import FlowRuntime, Run

__all__ = ["admit", "next_waiting"]

log = logging.getLogger("o2g_flows.engine")


def admit(
    runtime: FlowRuntime,
    key: Any,
    index: int,
    event: dict[str, Any],
    restart: Callable[[Run], None],
) -> bool:
    """Whether a start of ``runtime``'s flow for ``key`` may create an execution now.

    ``restart(run)`` ends a live execution the ``restart`` mode replaces. A start that
    must wait is queued on the runtime; one that is refused is counted in ``skipped``.
    """
    current = runtime.live.get(key)
    if current is None:
        return True
    flow = runtime.flow
    mode = flow.mode
    if mode == "restart":
        for run in current:
            restart(run)
        return True
    if mode == "queued":
        waiting = runtime.waiting.setdefault(key, deque())
        if len(waiting) >= flow.max:
            runtime.skipped += 1
            log.warning("%s[%s]: queue full (max %d), event dropped", flow.name, key, flow.max)
        else:
            waiting.append((index, event))
        return False
    if mode == "parallel":
        if len(current) < flow.max:
            return True
        runtime.skipped += 1
        log.warning("%s[%s]: %d executions running (max), event dropped", flow.name, key, flow.max)
        return False
    runtime.skipped += 1
    return False


def next_waiting(runtime: FlowRuntime, key: Any) -> tuple[int, dict[str, Any]] | None:
    """The queued start to run now that ``key`` has no live execution, if any."""
    waiting = runtime.waiting.get(key)
    if not waiting or key in runtime.live:
        return None
    item = waiting.popleft()
    if not waiting:
        del runtime.waiting[key]
    return item
