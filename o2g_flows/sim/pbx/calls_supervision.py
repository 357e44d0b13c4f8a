"""A supervisor in an agent's call: joining it (intrusion, listening), changing mode, leaving.

The ACD (``pbx.acd``) decides who supervises whom and calls ``join``, ``change`` and
``remove`` of ``pbx.calls.supervision``; the call model tells it when a supervisor hangs up
(``Acd.supervisor_left``). ``Supervision`` works on the calls through the public moves of
``CallCore`` only. The supervisor is a party of the call on its own set, with
its own view of it; every user in the call sees it come, change mode and go, with the cause of
its mode (``SUPERVISION_CAUSES``).
"""

from __future__ import annotations

from ..errors import RestError
from .calls_core import CallCore
from .calls_state import ACTIVE, Party
from .config import User

__all__ = ["SUPERVISION_CAUSES", "Supervision"]

#: The CallCause of the events of a supervised call, per IntrusionMode.
SUPERVISION_CAUSES = {
    "NORMAL": "SUPERVISOR_INTRUSION",  # talks with the agent and the customer
    "RESTRICTED": "SUPERVISOR_RESTRICT_INTRUSION",  # talks with the agent only
    "DISCRETE": "SUPERVISOR_LISTENING",  # only listens
}


class Supervision:
    """Supervisors joining, changing mode in and leaving agents' distributed calls."""

    def __init__(self, calls: CallCore) -> None:
        self._calls = calls

    def join(
        self, supervisor: User, device: str, agent_login: str, call_ref: str, mode: str
    ) -> None:
        """``supervisor`` joins on ``device`` the distributed call ``call_ref`` of the agent.

        The agent's leg must be ACTIVE and the supervisor FREE.
        """
        calls = self._calls
        call = calls.find(call_ref)
        if call is None:
            raise RestError.not_expected(f"The call {call_ref} of {agent_login} no longer exists")
        agent = next(
            (p for p in call.parties if p.login == agent_login and p.pilot is not None), None
        )
        if agent is None or agent.state != ACTIVE:
            state = agent.state if agent is not None else "gone"
            raise RestError.not_expected(
                f"The call {call_ref} of {agent_login} is not active ({state})"
            )
        if any(p.user is supervisor for p in call.parties):
            raise RestError.not_expected(f"{supervisor.login} is already in call {call_ref}")
        if calls.user_state(supervisor.login) == "BUSY":
            raise RestError.not_expected(f"{supervisor.login} is busy on another call")
        party = Party(
            "user",
            device,
            ACTIVE,
            "CALLEE",  # not the caller: an anonymous call's caller stays the customer
            user=supervisor,
            answered=True,
            supervising=mode,
            supervised=agent,
            acd_data=agent.acd_data,
        )
        calls.attach(call, party)
        cause = SUPERVISION_CAUSES[mode]
        calls.emit(calls.views.created(party, cause))
        calls.sync_state(supervisor)
        for other in call.parties:
            if other is not party and other.user is not None:
                calls.emit(calls.views.modified(other, cause, added=[party]))

    def change(self, login: str, mode: str) -> None:
        """The supervisor ``login`` goes on supervising its call in ``mode``."""
        party = self._supervisor_party(login)
        if party is None or party.call is None:
            return
        party.supervising = mode
        cause = SUPERVISION_CAUSES[mode]
        views = self._calls.views
        self._calls.emit(views.modified(party, cause, legs=[party]))
        for other in party.call.parties:
            if other is not party and other.user is not None:
                self._calls.emit(views.modified(other, cause, participants=[party]))

    def remove(self, login: str) -> None:
        """The supervisor ``login`` leaves the call it supervises (if it is in one that is not
        being released already)."""
        party = self._supervisor_party(login)
        if party is not None and party.call is not None and not party.call.ending:
            self._calls.drop_out(party, "CLEARED")

    def _supervisor_party(self, login: str) -> Party | None:
        for call in self._calls.calls_of(login):
            for party in call.parties:
                if party.login == login and party.supervising is not None:
                    return party
        return None
