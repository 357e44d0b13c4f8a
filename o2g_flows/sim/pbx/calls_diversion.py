"""Diversion: how a call offered to a user is routed before it rings.

Immediate forward, do-not-disturb, busy (forward on busy, camp-on, or refusal) and the
no-answer overflow the core asks for when the ring time is over. A diverted user sees the
call come and go (OnCallRemoved with ``newDestination``); a refused call leaves only a
missed-call record. The diversion works on the calls through the public moves of
``CallCore`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .calls_state import IDLE, Call, Party, basic_only, normalize_number
from .config import User
from .routing import Situation

if TYPE_CHECKING:
    from .calls_core import CallCore
    from .core import Pbx

__all__ = ["Diversion"]


class Diversion:
    """The forward, DND, busy and overflow rules applied to calls offered to users."""

    def __init__(self, pbx: Pbx, calls: CallCore) -> None:
        self._pbx = pbx
        self._calls = calls

    def offer_user(self, call: Call, user: User, depth: int) -> tuple[Party | None, str | None]:
        """Routing of a call to a user: immediate forward, DND, busy, then ringing."""
        destination = self.destination(user, "immediate")
        if destination is not None:
            return self._divert(call, user, destination, depth, "FORWARDED")
        routing = self._pbx.routing.state(user.login)
        if routing.dnd:
            destination = self.destination(user, "busy")
            if destination is not None:
                return self._divert(call, user, destination, depth, "DO_NOT_DISTURB")
            self._refuse(call, user, None)
            return None, "DO_NOT_DISTURB"
        if self.is_busy(user):
            destination = self.destination(user, "busy")
            if destination is not None:
                return self._divert(call, user, destination, depth, "FORWARDED")
            if not self._camp_on(user):
                self._refuse(call, user, "BUSY")
                return None, "BUSY"
        party = self._calls.ring(call, user, self._calls.current_device(user))
        mobile = routing.ringing_mobile
        if mobile is not None and mobile != party.number:
            party.also_ringing = mobile  # the remote extension rings too
        return party, None

    def destination(self, user: User, situation: Situation) -> dict[str, Any] | None:
        """The user's forward/overflow destination for ``situation``, if one can be used:
        ``{"type": "VOICEMAIL"}`` or ``{"type": "NUMBER", "number": <dialled digits>}``."""
        destination = self._pbx.routing.divert(user.login, situation)
        if destination is None:
            return None
        if destination["type"] == "VOICEMAIL":
            return destination if user.voicemail else None
        number = normalize_number(destination["number"])
        if number is None or number in self._calls.devices(user):
            return None
        return {"type": "NUMBER", "number": number}

    def _divert(
        self, call: Call, user: User, destination: dict[str, Any], depth: int, victim_cause: str
    ) -> tuple[Party | None, str | None]:
        """The call for ``user`` goes to ``destination`` without ringing: the user sees it come
        and go (OnCallRemoved with ``newDestination``), the caller sees the new party."""
        victim = Party(
            "user",
            self._calls.current_device(user),
            IDLE,
            "CALLEE",
            user=user,
            diverted=True,
            reason="FORWARDED",
        )
        self._calls.attach(call, victim)
        self._calls.emit(self._calls.views.created(victim))
        if destination["type"] == "VOICEMAIL":
            self._calls.detach(
                victim, victim_cause, new_destination=self._pbx.config.voicemail_service
            )
            target = self._calls.voicemail(call, user.login)
        else:
            number = destination["number"]
            self._calls.detach(victim, victim_cause, new_destination=number)
            target, refusal = self._calls.offer(call, number, depth + 1)
            if target is None:
                return None, refusal
        target.rerouted = True
        return target, "FORWARDED"

    def _refuse(self, call: Call, user: User, reason: str | None) -> None:
        """The call never reached ``user`` (busy, DND): only a missed-call record is left."""
        victim = Party("user", user.number, IDLE, "CALLEE", user=user, diverted=True, reason=reason)
        self._calls.attach(call, victim)
        self._calls.detach(victim, None, notify=False)

    def is_busy(self, user: User) -> bool:
        """Whether a new call to ``user`` finds it busy (a basic user with any call)."""
        if basic_only(user):
            return bool(self._calls.calls_of(user.login))
        return self._calls.user_state(user.login) == "BUSY"

    @staticmethod
    def _camp_on(user: User) -> bool:
        return any(device.campon for device in user.devices if device.id == user.number)
