"""Catching up with O2G after a blind spell (an event gap, a restart).

The engine cannot see what happened while it was not listening, so it asks O2G:
``snapshot_requests`` lists the snapshot requests that make O2G describe the users its
executions follow again. Agent and routing snapshots answer with the usual events;
a telephony snapshot answers with ``OnTelephonyState``, which ``CallReconciler`` compares
with the call executions: a call gone ends its execution, a call that changed delivers
an ``OnCallModified``, and a call no execution has seen is offered as ``OnCallCreated``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import FlowRuntime, Run

__all__ = ["CALL_EVENTS", "CallReconciler", "snapshot_requests"]

CALL_EVENTS = frozenset({"OnCallCreated", "OnCallModified", "OnCallRemoved"})


def snapshot_requests(
    runtimes: Iterable[FlowRuntime], named_users: bool = False
) -> list[tuple[str, str, list[Run]]]:
    """``(client method, login, runs)``: the snapshots that resynchronise the live runs,
    and with ``named_users`` those of every user a flow names in ``users:`` (so that a
    call that began while the engine was stopped is seen)."""
    wanted: dict[tuple[str, str], list[Run]] = {}
    for runtime in runtimes:
        events = runtime.flow.events()
        methods = []
        if events & CALL_EVENTS:
            methods.append("telephony.request_snapshot")
        if "OnAgentStateChanged" in events:
            methods.append("acd.request_snapshot")
        if "OnRoutingStateChanged" in events:
            methods.append("routing.request_snapshot")
        if named_users and runtime.flow.users is not None:
            for login in runtime.flow.users:
                for method in methods:
                    wanted.setdefault((method, login), [])
        for run in runtime.runs():
            login = run.execution.login
            if isinstance(login, str):
                for method in methods:
                    wanted.setdefault((method, login), []).append(run)
    return [(method, login, runs) for (method, login), runs in sorted(wanted.items())]


class CallReconciler:
    """Compares a user's calls in an ``OnTelephonyState`` with the executions that follow them.

    It remembers the last ``remember`` call references seen in ``OnCallCreated`` (a deque
    and a set: O(1) per call), so a call the engine already saw is not offered again.
    """

    def __init__(self, remember: int = 20_000) -> None:
        self._order: deque[Any] = deque()
        self._seen: set[Any] = set()
        self._remember = remember

    def saw(self, call_ref: Any) -> None:
        """Remember a call reference from an ``OnCallCreated``."""
        if call_ref in self._seen:
            return
        self._seen.add(call_ref)
        self._order.append(call_ref)
        if len(self._order) > self._remember:
            self._seen.discard(self._order.popleft())

    def reconcile(
        self,
        event: dict[str, Any],
        runs: Iterable[Run],
        deliver: Callable[[Run, dict[str, Any]], None],
        dispatch: Callable[[dict[str, Any]], None],
    ) -> None:
        """Deliver what the snapshot ``event`` says changed to each run following a call of
        its user (``deliver(run, synthetic_event)``), and ``dispatch`` calls never seen."""
        login = event.get("loginName")
        state = event.get("state") or {}
        calls = {
            call.get("callRef"): call for call in state.get("calls") or [] if isinstance(call, dict)
        }
        for run in runs:
            execution = run.execution
            if execution.login != login or execution.event.get("callRef") != execution.key:
                continue
            call = calls.get(execution.key)
            if call is None:
                deliver(
                    run,
                    {
                        "eventName": "OnCallRemoved",
                        "loginName": login,
                        "callRef": execution.key,
                        "cause": "UNKNOWN",
                        "reconciled": True,
                    },
                )
            elif _leg_states(call.get("legs")) != _leg_states(
                execution.event.get("legs") or execution.event.get("modifiedLegs")
            ):
                deliver(
                    run,
                    {
                        "eventName": "OnCallModified",
                        "loginName": login,
                        "callRef": execution.key,
                        "callData": call.get("callData"),
                        "modifiedLegs": call.get("legs") or [],
                        "modifiedParticipants": call.get("participants") or [],
                        "reconciled": True,
                    },
                )
        for ref, call in calls.items():
            if ref not in self._seen:
                dispatch(
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
