"""ACD distribution: calls waiting in the queues of the pilots, offered to agents.

A call that reaches a pilot waits in its queue (``queue``); whenever the ACD has a READY
agent it asks for the queue to be served (``serve``): the oldest call rings the agent
``Acd.pick_agent`` reserved, with its ``acdCallData``. An agent that does not answer in
time sends the call back to the head of the queue (``requeue``); a caller hanging up while
waiting leaves it (``left``). Each step emits the vendor SDKs' ``pilot`` events. The
distribution works on the calls through the public moves of ``CallCore`` only.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from . import pilot_events
from .calls_state import RINGING_INCOMING, Call, Party
from .config import Pilot, User

if TYPE_CHECKING:
    from .calls_core import CallCore
    from .core import Pbx

__all__ = ["AcdDistribution"]


class AcdDistribution:
    """The queue of every pilot of the PBX file."""

    def __init__(self, pbx: Pbx, calls: CallCore) -> None:
        self._pbx = pbx
        self._calls = calls
        self._queues: dict[str, deque[Call]] = {p.number: deque() for p in pbx.config.pilots}

    def queue(self, call: Call, pilot: Pilot) -> tuple[Party | None, str | None]:
        """The call waits at ``pilot``: its waiting party, or (None, ``BUSY``) if full."""
        queue = self._queues[pilot.number]
        if len(queue) >= pilot.queue_size:
            return None, "BUSY"
        party = Party("pilot", pilot.number, RINGING_INCOMING, "CALLEE")
        self._calls.attach(call, party)
        call.pilot, call.queued_at = pilot.number, time.monotonic()
        queue.append(call)
        self._calls.emit(pilot_events.created(call, pilot.number))
        self._calls.emit(pilot_events.queued(call, pilot, len(queue), "ACD_ENTER_DISTRIBUTION"))
        return party, None

    def serve(self, pilot_number: str) -> None:
        """Offer the oldest waiting calls of the pilot to the agents the ACD picks."""
        queue = self._queues.get(pilot_number)
        calls = self._calls
        while queue:
            picked = self._pbx.acd.pick_agent(pilot_number)
            if picked is None:
                return
            login, device = picked
            call = queue.popleft()
            waiting = next(p for p in call.parties if p.kind == "pilot")
            agent = self._pbx.users[login]
            party = calls.ring(call, agent, device, pilot=pilot_number)
            party.acd_data = self._acd_data(call, agent, pilot_number, len(queue))
            calls.emit(pilot_events.distributed(call, pilot_number, device))
            calls.replace(waiting, party, "DISTRIBUTED", None, None)

    def requeue(self, agent_party: Party) -> None:
        """The agent did not answer: the call goes back to the head of the queue."""
        call = agent_party.call
        pilot = agent_party.pilot
        assert call is not None and pilot is not None
        waiting = Party("pilot", pilot, RINGING_INCOMING, "CALLEE")
        self._calls.attach(call, waiting)
        queue = self._queues[pilot]
        queue.appendleft(call)
        config = self._pbx.resolve(pilot).pilot
        assert config is not None
        self._calls.emit(pilot_events.queued(call, config, len(queue), "NOT_ANSWERED"))
        self._calls.replace(agent_party, waiting, None, None, None)

    def left(self, party: Party, cause: str | None) -> None:
        """The waiting ``party`` left its call: the call leaves the queue if still in it."""
        call = party.call
        queue = self._queues.get(party.number)
        if call is not None and queue and call in queue:
            queue.remove(call)
            self._calls.emit(pilot_events.abandoned(call, party.number, cause or "ABANDONED"))

    def snapshot(self) -> dict[str, list[str]]:
        """The callRefs waiting at each pilot, oldest first."""
        return {pilot: [call.ref for call in queue] for pilot, queue in self._queues.items()}

    def _acd_data(self, call: Call, agent: User, pilot: str, waiting: int) -> dict[str, Any]:
        """The acdCallData of ``call`` offered to ``agent`` with ``waiting`` calls queued."""
        config = self._pbx.resolve(pilot).pilot
        assert config is not None
        groups = agent.acd.groups if agent.acd else []
        group = next((g for g in groups if g in config.groups), None)
        waited = int(time.monotonic() - call.queued_at)
        info: dict[str, Any] = {"queueWaitingTime": waited, "globalWaitingTime": waited}
        if group is not None:
            info["agentGroup"] = group
        info["local"] = True
        return {
            "callInfo": info,
            "queueData": {"waitingTime": 0, "saturated": waiting >= config.queue_size},
            "pilotNumber": pilot,
        }
