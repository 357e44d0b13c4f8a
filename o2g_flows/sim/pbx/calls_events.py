"""What a user sees of a call: legs, participants, call data, capabilities and the events.

Each user sees a call through its own legs (its parties in the call); every other party is a
participant. Event dicts are built once per recipient and handed to ``Pbx.emit``, which encodes
them at once, so shared sub-dicts (identities) are never mutated afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .calls_state import (
    ACTIVE,
    DIALING,
    HELD,
    RELEASING,
    RINGING_INCOMING,
    RINGING_OUTGOING,
    Call,
    Party,
    basic_only,
)
from .config import User

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["Views", "ringing_leg"]

_EMPTY: tuple[()] = ()


class Views:
    """JSON views of calls for one viewer, and the telephony events built from them."""

    def __init__(
        self,
        pbx: Pbx,
        calls_of: Callable[[str], list[Call]],
        devices_of: Callable[[User], list[str]],
    ) -> None:
        self._pbx = pbx
        self._calls_of = calls_of
        self._devices_of = devices_of
        self._identities: dict[str, dict[str, Any]] = {}

    # -- building blocks ------------------------------------------------------------------------

    def identity(self, number: str) -> dict[str, Any]:
        """PartyInfo of ``number`` (cached: the number plan does not change while running)."""
        info = self._identities.get(number)
        if info is None:
            info = self._identities[number] = self._pbx.party(number)
        return info

    def leg(self, party: Party) -> dict[str, Any]:
        """The Leg of a user's party."""
        leg: dict[str, Any] = {
            "deviceId": party.number,
            "state": party.state,
            "capabilities": self._leg_capabilities(party),
        }
        if party.state == RINGING_OUTGOING:
            leg["ringingRemote"] = _remote_ringing(party)
        return leg

    def legs(self, party: Party) -> list[dict[str, Any]]:
        """Every Leg of a user's party: two while it rings on its remote extension too."""
        if party.also_ringing is None:
            return [self.leg(party)]
        return [self.leg(party), ringing_leg(party.also_ringing)]

    def participant(self, party: Party) -> dict[str, Any]:
        """The Participant others see; ``state`` only in calls of three parties or more."""
        body: dict[str, Any] = {"participantId": party.pid, "identity": self.identity(party.pid)}
        call = party.call
        if call is not None and len(call.parties) > 2:
            body["state"] = party.state
        if call is not None and call.anonymous and party.role == "CALLER":
            body["anonymous"] = True
        return body

    def call_data(self, call: Call, viewer: Party) -> dict[str, Any]:
        """CallData as ``viewer``'s user sees it (state = the state of its leg)."""
        data: dict[str, Any] = {
            "initialCalled": {"id": {"phoneNumber": call.initial_called}},
            "state": viewer.state,
            "tags": [],
            "capabilities": self._call_capabilities(call, viewer),
        }
        if call.anonymous:
            data["anonymous"] = True
        if call.associate_data is not None:
            data["associateData"] = call.associate_data
        if call.account_info is not None:
            data["accountInfo"] = call.account_info
        if viewer.record_state is not None:
            data["recordState"] = viewer.record_state
        if viewer.acd_data is not None:
            data["acdCallData"] = viewer.acd_data
        return data

    def call_json(self, call: Call, login: str) -> dict[str, Any]:
        """The Call of ``GET /telephony/calls/{callRef}`` for ``login``."""
        mine = [p for p in call.parties if p.login == login]
        return {
            "callRef": call.ref,
            "callData": self.call_data(call, mine[0]),
            "legs": [leg for p in mine for leg in self.legs(p)],
            "participants": [self.participant(p) for p in call.parties if p.login != login],
        }

    def device_capabilities(self, user: User, device: str | None = None) -> list[dict[str, Any]]:
        """DeviceCapabilities of the user's devices, and of ``device`` (where a call rings, a
        pro-ACD set for instance) when it is not one of them."""
        can_call = not basic_only(user) or not self._calls_of(user.login)
        devices = self._devices_of(user)
        if device is not None and device not in devices:
            devices = [*devices, device]
        return [
            {"deviceId": d, "makeCall": can_call, "makeBusinessCall": can_call, "unParkCall": True}
            for d in devices
        ]

    # -- events ---------------------------------------------------------------------------------

    def created(self, party: Party, cause: str | None = None) -> dict[str, Any]:
        """OnCallCreated for the user of ``party``."""
        call = party.call
        assert call is not None and party.user is not None
        login = party.user.login
        event: dict[str, Any] = {
            "eventName": "OnCallCreated",
            "loginName": login,
            "callRef": call.ref,
        }
        if cause:
            event["cause"] = cause
        event["callData"] = self.call_data(call, party)
        event["legs"] = self.legs(party)
        event["participants"] = [self.participant(p) for p in call.parties if p.login != login]
        event["deviceCapabilities"] = self.device_capabilities(party.user, party.number)
        return event

    def modified(
        self,
        party: Party,
        cause: str | None = None,
        *,
        legs: Iterable[Party] = _EMPTY,
        added_legs: Iterable[Party] = _EMPTY,
        removed_legs: Iterable[dict[str, Any]] = _EMPTY,
        participants: Iterable[Party] = _EMPTY,
        added: Iterable[Party] = _EMPTY,
        removed: Iterable[str] = _EMPTY,
        previous: str | None = None,
    ) -> dict[str, Any]:
        """OnCallModified for the user of ``party``; every list is present (as on the wire)."""
        call = party.call
        assert call is not None and party.user is not None
        event: dict[str, Any] = {
            "eventName": "OnCallModified",
            "loginName": party.user.login,
            "callRef": call.ref,
        }
        if cause:
            event["cause"] = cause
        if previous:
            event["previousCallRef"] = previous
        event["callData"] = self.call_data(call, party)
        event["modifiedLegs"] = [self.leg(p) for p in legs]
        event["addedLegs"] = [self.leg(p) for p in added_legs]
        event["removedLegs"] = list(removed_legs)
        event["modifiedParticipants"] = [self.participant(p) for p in participants]
        event["addedParticipants"] = [self.participant(p) for p in added]
        event["removedParticipantIds"] = list(removed)
        event["deviceCapabilities"] = []
        return event

    def removed(
        self, call: Call, login: str, cause: str | None, new_destination: str | None = None
    ) -> dict[str, Any]:
        """OnCallRemoved for ``login``."""
        event: dict[str, Any] = {
            "eventName": "OnCallRemoved",
            "loginName": login,
            "callRef": call.ref,
        }
        if cause:
            event["cause"] = cause
        if new_destination:
            event["newDestination"] = new_destination
        event["deviceCapabilities"] = []
        return event

    # -- capabilities ---------------------------------------------------------------------------

    def _leg_capabilities(self, party: Party) -> dict[str, bool]:
        state = party.state
        if party.supervising is not None:
            return {"drop": True}  # a supervisor can only leave
        if state == RINGING_INCOMING:
            return {"answer": True}
        if state in (DIALING, RINGING_OUTGOING, RELEASING):
            return {"drop": True}
        if state == ACTIVE:
            caps = {"drop": True, "hold": True, "sendDtmf": True}
            if party.user is not None and len(self._devices_of(party.user)) > 1:
                caps["switchDevice"] = True
            return caps
        if state == HELD:
            caps = {"drop": True, "retrieve": True}
            if self._other_call(party, (ACTIVE, RINGING_OUTGOING, DIALING)):
                caps["reconnect"] = True
            return caps
        return {}

    def _call_capabilities(self, call: Call, party: Party) -> dict[str, bool]:
        state = party.state
        if party.supervising is not None:
            return {"dropMe": True}
        if state == RINGING_INCOMING:
            caps = {"redirect": True, "pickedUp": True, "terminate": True}
            if party.user is not None and party.user.voicemail:
                caps["redirectToVoiceMail"] = True
            return caps
        if state == DIALING:
            return {"dropMe": True, "terminate": True}
        if state == RINGING_OUTGOING:
            caps = {"dropMe": True, "terminate": True}
            ringing = [p for p in call.parties if p.state == RINGING_INCOMING and p.kind == "user"]
            if ringing:
                caps["callBack"] = True
                if any(p.user is not None and p.user.voicemail for p in ringing):
                    caps["overflowToVoiceMail"] = True
            if self._other_call(party, (HELD,)):
                caps["transfer"] = True
            return caps
        if state == ACTIVE:
            caps = {"dropMe": True, "terminate": True, "blindTransfer": True, "park": True}
            if self._other_call(party, (HELD,)):
                caps["transfer"] = caps["merge"] = True
            if len(call.parties) > 2:
                caps["dropParticipant"] = True
            if party.user is not None and party.user.voicemail:
                recording = party.record_state
                caps["startRecord"] = recording is None
                caps["stopRecord"] = recording is not None
                caps["pauseRecord"] = recording == "RECORDING"
                caps["resumeRecord"] = recording == "PAUSED"
            return caps
        if state == HELD:
            caps = {"dropMe": True, "terminate": True, "blindTransfer": True}
            if self._other_call(party, (ACTIVE, RINGING_OUTGOING)):
                caps["transfer"] = caps["merge"] = True
            return caps
        if state == RELEASING:
            return {"terminate": True}
        return {}

    def _other_call(self, party: Party, states: tuple[str, ...]) -> bool:
        """Whether the party's user has another call with its leg in one of ``states``."""
        if party.user is None:
            return False
        login = party.user.login
        for call in self._calls_of(login):
            if call is party.call:
                continue
            if any(p.login == login and p.state in states for p in call.parties):
                return True
        return False


def ringing_leg(device: str) -> dict[str, Any]:
    """The Leg of a device ringing in parallel (a remote extension)."""
    return {"deviceId": device, "state": RINGING_INCOMING, "capabilities": {"answer": True}}


def _remote_ringing(party: Party) -> bool:
    call = party.call
    return call is not None and any(
        p.state == RINGING_INCOMING and p.kind in ("user", "external") for p in call.parties
    )
