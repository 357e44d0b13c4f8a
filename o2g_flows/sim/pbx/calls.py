"""The call model: what users (through the REST API) and the outside world do with calls.

``CallModel`` is ``pbx.calls``. Each operation checks the state of the legs it acts on
(``RestError.incompatible_state`` otherwise), then moves parties with the public moves of
its ``CallCore`` (``self.core``), which emit the telephony events. See docs/sim-calls.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from .calls_core import CallCore
from .calls_state import (
    ACTIVE,
    DIALING,
    HELD,
    RINGING_INCOMING,
    RINGING_OUTGOING,
    Call,
    Party,
    basic_only,
)
from .calls_supervision import Supervision
from .config import User

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["CallModel"]

_DTMF = re.compile(r"[0-9*#A-D]+")
_RECORDING = {
    "start": (None, "RECORDING"),
    "pause": ("RECORDING", "PAUSED"),
    "resume": ("PAUSED", "RECORDING"),
}
#: Which leg ``basicCall/dropme`` and a hand on the hook act on first.
_HANG_UP_ORDER = (ACTIVE, DIALING, RINGING_OUTGOING, RINGING_INCOMING, HELD)


def _incompatible(party: Party, operation: str) -> RestError:
    call = party.call
    ref = call.ref if call is not None else "?"
    return RestError.incompatible_state(
        f"Cannot {operation} call {ref}: the leg of {party.number} is {party.state}"
    )


def _not_supervising(*parties: Party) -> None:
    """A supervisor's leg can only leave its call (hang up, drop me)."""
    for party in parties:
        if party.supervising is not None:
            call = party.call
            ref = call.ref if call is not None else "?"
            raise RestError.incompatible_state(
                f"{party.number} supervises call {ref}: it can only leave it"
            )


def _service_unavailable(message: str) -> RestError:
    return RestError.not_expected(
        message,
        telephony={"errorType": "SERVICE_UNAVAILABLE", "errorCause": "UNKNOWN", "message": message},
    )


class CallModel:
    """``pbx.calls``: making, answering, releasing and handling calls.

    It is composed of the core (``core``: the calls and the moves of their parties), the
    ACD distribution (``distribution``), the supervisors' part (``supervision``), the
    hunting groups (``hunting``) and the event views (``views``); the lookups below are the
    core's, for the HTTP handlers.
    """

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self.core = core = CallCore(pbx)
        self.views = core.views
        self.hunting = core.hunting
        self.distribution = core.distribution
        self.supervision = Supervision(core)
        self.get = core.get
        self.calls_of = core.calls_of
        self.party_of = core.party_of
        self.device_owner = core.device_owner
        self.current_device = core.current_device
        self.dialled = core.dialled

    # -- making calls ---------------------------------------------------------------------------

    def make_call(
        self,
        user: User,
        device: str,
        callee: str,
        *,
        auto_answer: bool = False,
        associated_data: str | None = None,
        by_hand: bool = False,
    ) -> str:
        """``user`` calls ``callee`` from ``device``; the callRef.

        Without ``auto_answer`` the user's set is rung first and, being a simulated set,
        goes off-hook at once: the caller sees its call created DIALING, then RINGING_OUTGOING.
        ``by_hand`` (the control API) skips the licence rule of TELEPHONY_BASIC users.
        """
        number = self.core.dialled(callee)
        if not by_hand and basic_only(user) and self.core.calls_of(user.login):
            raise RestError.unauthorized(
                f"{user.login} already has a call and holds only a TELEPHONY_BASIC license",
                "RESOURCE_BUSY",
            )
        if self.core.device_owner(number) is user:
            raise RestError.unauthorized(
                f"{number} is a device of {user.login}", "INVALID_DESTINATION"
            )
        if associated_data is not None:
            self._check_associated_data(associated_data)
        self.core.hold_device(user, device)
        call = self.core.new_call(number)
        call.associate_data = associated_data
        caller = Party("user", device, DIALING, "CALLER", user=user)
        self.core.attach(call, caller)
        return self.core.place(call, caller, number, announce_first=not auto_answer)

    def external_call(self, caller: str, callee: str) -> str:
        """A party outside the PBX (``caller``) dials ``callee``; the callRef."""
        number = self.core.dialled(callee)
        call = self.core.new_call(number)
        party = Party("external", caller, RINGING_OUTGOING, "CALLER")
        self.core.attach(call, party)
        return self.core.place(call, party, number, announce_first=False)

    # -- answering, hanging up ------------------------------------------------------------------

    def answer(self, party: Party, device: str | None = None) -> None:
        """``party`` answers, on ``device`` when it rings on several (a remote extension)."""
        if party.state != RINGING_INCOMING:
            raise _incompatible(party, "answer")
        self.core.answer(party, device)

    def answer_device(self, device: str, call_ref: str | None = None) -> None:
        """The call ringing on ``device`` (the given one, or the oldest) is answered."""
        party = self._device_party(device, call_ref, (RINGING_INCOMING,))
        if party is None:
            raise RestError.incompatible_state(f"No call is ringing on {device}")
        self.core.answer(party, device)

    def hang_up_device(self, device: str, call_ref: str | None = None) -> None:
        """Hang up ``device``: it leaves its current call (or rejects the ringing one)."""
        party = self._device_party(device, call_ref, _HANG_UP_ORDER)
        if party is None:
            raise RestError.incompatible_state(f"{device} has no call")
        if party.also_ringing is not None and party.state == RINGING_INCOMING:
            # One of two devices ringing together declines: the other one keeps ringing.
            keep = party.number if device == party.also_ringing else party.also_ringing
            stopped = self.core.stop_parallel_ringing(party, keep)
            self.core.emit(self.views.modified(party, removed_legs=stopped))
            return
        self.core.leave(party)

    def drop_me(self, party: Party) -> None:
        """The user leaves: a two-party call ends, a conference carries on."""
        self.core.leave(party)

    def drop_basic(self, user: User) -> None:
        """``basicCall/dropme``: the user leaves its current call."""
        for state in _HANG_UP_ORDER:
            for call in self.core.calls_of(user.login):
                for party in call.parties:
                    if party.user is user and party.state == state:
                        self.core.leave(party)
                        return
        raise RestError.incompatible_state(f"{user.login} has no call")

    def release(self, party: Party) -> None:
        """``DELETE /telephony/calls/{callRef}``: every party of the call is released (a
        supervisor only releases itself)."""
        call = party.call
        assert call is not None
        if party.supervising is not None:
            self.core.leave(party)
            return
        mine, others = self.core.end_causes(party)
        self.core.end(call, party, mine, others)

    def drop_participant(self, party: Party, participant_id: str) -> None:
        """Drop another party: a two-party call ends, a conference carries on."""
        if party.state not in (ACTIVE, HELD):
            raise _incompatible(party, "drop a participant of")
        _not_supervising(party)
        target = self.participant(party, participant_id)
        self.core.leave(target)

    def participant(self, party: Party, participant_id: str) -> Party:
        """The party ``participant_id`` of the call, as ``party``'s user sees it."""
        call = party.call
        assert call is not None
        for other in call.parties:
            if other.pid == participant_id and other.login != party.login:
                return other
        raise RestError.bad_value(f"Unknown participant {participant_id} in call {call.ref}")

    # -- hold, retrieve, alternate, reconnect ---------------------------------------------------

    def hold(self, party: Party) -> None:
        """Put the ACTIVE leg on hold."""
        if party.state != ACTIVE:
            raise _incompatible(party, "hold")
        _not_supervising(party)
        self._set_state(party, HELD)

    def retrieve(self, party: Party) -> None:
        """Take the HELD leg back (refused while another call is active on the device)."""
        if party.state != HELD:
            raise _incompatible(party, "retrieve")
        if self._other_leg(party, (ACTIVE,)) is not None:
            raise RestError.incompatible_state(
                f"{party.number} has another active call: use alternate"
            )
        self._set_state(party, ACTIVE)

    def alternate(self, held: Party) -> None:
        """Hold the user's active call and retrieve ``held``."""
        if held.state != HELD:
            raise _incompatible(held, "alternate to")
        active = self._other_leg(held, (ACTIVE,))
        if active is None:
            raise RestError.incompatible_state(f"{held.number} has no active call to put on hold")
        _not_supervising(active)
        self._set_state(active, HELD)
        self._set_state(held, ACTIVE)

    def reconnect(self, held: Party, enquiry_ref: str) -> None:
        """Release the enquiry call (active or ringing) and retrieve ``held``."""
        assert held.user is not None
        enquiry = self.core.party_of(enquiry_ref, held.user.login)
        if held.state != HELD or enquiry.call is held.call:
            raise _incompatible(held, "reconnect")
        if enquiry.state not in (ACTIVE, DIALING, RINGING_OUTGOING):
            raise _incompatible(enquiry, "cancel the enquiry")
        self.core.leave(enquiry)
        self._set_state(held, ACTIVE)

    # -- transfer, conference -------------------------------------------------------------------

    def transfer(self, active: Party, held: Party) -> None:
        """Join the other parties of both calls and take the user out (attended transfer).

        The held call keeps its callRef; parties of the active call see it replace theirs
        (``previousCallRef``).
        """
        survivor, other = held.call, active.call
        assert survivor is not None and other is not None
        if survivor is other or held.state != HELD:
            raise _incompatible(held, "transfer")
        if active.state not in (ACTIVE, RINGING_OUTGOING):
            raise _incompatible(active, "transfer")
        _not_supervising(active, held)
        existing, moving = self.core.peers(held), self.core.peers(active)
        if not existing or not moving:
            raise RestError.incompatible_state("Both calls need another party to transfer")
        self.core.drop_supervisors(held)
        self.core.drop_supervisors(active)
        held.reason = active.reason = "TRANSFERRED"
        self.core.detach(held, "TRANSFERRED")
        self.core.detach(active, "TRANSFERRED")
        for party in moving:
            self._move(party, other, survivor)
        for party in existing:
            if party.user is not None:
                self.core.emit(
                    self.views.modified(party, "TRANSFERRED", removed=[held.pid], added=moving)
                )
        for party in moving:
            party.rerouted = True
            if party.user is not None:
                self.core.emit(
                    self.views.modified(
                        party,
                        "TRANSFERRED",
                        removed=[active.pid],
                        added=existing,
                        previous=other.ref,
                    )
                )

    def blind_transfer(self, party: Party, number: str, anonymous: bool = False) -> None:
        """The user leaves the call, which now calls ``number``."""
        if party.state not in (ACTIVE, HELD):
            raise _incompatible(party, "blind transfer")
        call = party.call
        assert call is not None and party.user is not None
        destination = self.core.dialled(number)
        if self.core.device_owner(destination) is party.user:
            raise RestError.unauthorized(f"{destination} is a device of {party.user.login}")
        _not_supervising(party)
        others = self.core.peers(party)
        if not others:
            raise _incompatible(party, "blind transfer")
        self.core.drop_supervisors(party)
        party.reason = "TRANSFERRED"
        self.core.detach(party, "TRANSFERRED")
        call.anonymous = call.anonymous or anonymous
        target, refusal = self.core.offer(call, destination)
        if target is None:
            self.core.end(call, None, refusal, refusal)
            return
        target.rerouted = True
        for other in others:
            if other.user is not None:
                self.core.emit(
                    self.views.modified(other, "TRANSFERRED", removed=[party.pid], added=[target])
                )
        self.core.announce(target, "TRANSFERRED")

    def merge(self, active: Party, held: Party) -> None:
        """A conference of both calls under the held call's reference."""
        survivor, other = held.call, active.call
        assert survivor is not None and other is not None
        if survivor is other or held.state != HELD:
            raise _incompatible(held, "merge")
        if active.state != ACTIVE:
            raise _incompatible(active, "merge")
        _not_supervising(active, held)
        existing, moving = survivor.others(held), self.core.peers(active)
        if not existing or not moving:
            raise RestError.incompatible_state("Both calls need another party to merge")
        self.core.drop_supervisors(active)  # the held call keeps its supervisors
        self.core.detach(active, "CONFERENCED", notify=False, record=False)
        for party in moving:
            self._move(party, other, survivor)
        held.state = ACTIVE
        self.core.emit(
            self.views.modified(held, "CONFERENCED", legs=[held], added=moving, previous=other.ref)
        )
        for party in existing:
            if party.user is not None:
                self.core.emit(self.views.modified(party, "CONFERENCED", added=moving))
        for party in moving:
            if party.user is not None:
                self.core.emit(
                    self.views.modified(party, "CONFERENCED", added=existing, previous=other.ref)
                )

    # -- redirect, voicemail, pickup, park ------------------------------------------------------

    def redirect(self, party: Party, redirect_to: str, anonymous: bool = False) -> None:
        """Send the ringing call elsewhere (a number, ``VOICEMAIL`` or the voicemail number,
        or ``DVA``)."""
        if party.state != RINGING_INCOMING:
            raise _incompatible(party, "redirect")
        user = party.user
        call = party.call
        assert user is not None and call is not None
        voicemail_number = redirect_to == self._pbx.config.voicemail_service
        if redirect_to.upper() == "VOICEMAIL" or voicemail_number:
            if not user.voicemail:
                raise _service_unavailable(f"{user.login} has no voicemail")
            destination: dict[str, Any] = {"type": "VOICEMAIL"}
        elif redirect_to.upper() == "DVA":
            raise _service_unavailable("This PBX has no DVA")
        else:
            number = self.core.dialled(redirect_to)
            if self.core.device_owner(number) is user:
                raise RestError.unauthorized(f"{number} is a device of {user.login}")
            destination = {"type": "NUMBER", "number": number}
        call.anonymous = call.anonymous or anonymous
        self.core.reroute(party, destination, "REDIRECTED", "REDIRECTED", user.login)

    def overflow_to_voicemail(self, party: Party) -> None:
        """The caller sends its ringing call to the voicemail of the called user."""
        if party.state != RINGING_OUTGOING:
            raise _incompatible(party, "overflow to voicemail")
        call = party.call
        assert call is not None
        callee = next(
            (
                p
                for p in call.parties
                if p.state == RINGING_INCOMING and p.user is not None and p.user.voicemail
            ),
            None,
        )
        if callee is None or callee.user is None:
            raise _service_unavailable(f"No called user with a voicemail in call {call.ref}")
        self.core.reroute(
            callee, {"type": "VOICEMAIL"}, "REDIRECTED", "REDIRECTED", callee.user.login
        )

    def pickup(
        self,
        user: User,
        device: str,
        other_number: str,
        call_ref: str | None = None,
        auto_answer: bool = False,
    ) -> None:
        """``user`` takes on ``device`` the call ringing on ``other_number``."""
        number = self.core.dialled(other_number)
        calls = [self.core.get(call_ref)] if call_ref else list(self.core.by_ref.values())
        victim = next(
            (
                p
                for call in calls
                for p in call.parties
                if p.kind == "user"
                and p.state == RINGING_INCOMING
                and number in (p.number, p.pid, p.also_ringing)
            ),
            None,
        )
        if victim is None or victim.call is None:
            raise RestError.incompatible_state(f"No call is ringing on {number}")
        if any(p.user is user for p in victim.call.parties):
            raise RestError.unauthorized(f"{user.login} is already in call {victim.call.ref}")
        victim.diverted, victim.reason = True, "PICKUP"
        picker = Party("user", device, RINGING_INCOMING, "CALLEE", user=user, rerouted=True)
        self.core.attach(victim.call, picker)
        self.core.replace(victim, picker, "PICKED_UP", "PICKED_UP", device)
        if auto_answer:
            self.core.answer(picker)

    def park(self, party: Party, park_to: str | None = None) -> None:
        """The user leaves the call, parked on ``park_to`` (its own device by default)."""
        if party.state != ACTIVE:
            raise _incompatible(party, "park")
        call = party.call
        assert call is not None
        where = party.number
        if park_to:
            where = self.core.dialled(park_to)
            if self.core.device_owner(where) is None:
                raise RestError.bad_parameter(f"Cannot park on {where}: not a device of the PBX")
        if any(c.parked_on == where for c in self.core.by_ref.values()):
            raise RestError.incompatible_state(f"A call is already parked on {where}")
        _not_supervising(party)
        others = self.core.peers(party)
        if not others:
            raise _incompatible(party, "park")
        self.core.drop_supervisors(party)
        call.parked_on = where
        self.core.detach(party, "PARKED")
        for other in others:
            if other.user is not None:
                self.core.emit(self.views.modified(other, "PARKED", removed=[party.pid]))

    def unpark(self, user: User, device: str, unpark_from: str | None = None) -> None:
        """``user`` takes on ``device`` the call parked on ``unpark_from`` (default: ``device``)."""
        where = self.core.dialled(unpark_from) if unpark_from else device
        call = next((c for c in self.core.by_ref.values() if c.parked_on == where), None)
        if call is None:
            raise RestError.incompatible_state(f"No call is parked on {where}")
        if any(p.user is user for p in call.parties):
            raise RestError.unauthorized(f"{user.login} is already in call {call.ref}")
        call.parked_on = None
        self.core.hold_device(user, device)
        party = Party("user", device, ACTIVE, "CALLEE", user=user, answered=True)
        self.core.attach(call, party)
        self.core.emit(self.views.created(party))
        self.core.sync_state(user)
        for other in call.others(party):
            if other.user is not None:
                self.core.emit(self.views.modified(other, added=[party]))

    def callback(self, party: Party) -> None:
        """The caller of a ringing call asks the called user to call back, and hangs up."""
        if party.state != RINGING_OUTGOING:
            raise _incompatible(party, "request a callback on")
        call = party.call
        assert call is not None
        callee = next(
            (p for p in call.parties if p.state == RINGING_INCOMING and p.user is not None), None
        )
        if callee is None or callee.user is None:
            raise _service_unavailable(f"No called user to call back in call {call.ref}")
        self._pbx.messaging.add_callback(callee.user.login, self.views.identity(party.pid))
        self.core.leave(party)

    def request_callback(self, user: User, callee: str) -> None:
        """``outgoingCallbacks``: ``user`` asks the user of ``callee`` to call back."""
        number = self.core.dialled(callee)
        target = self.core.device_owner(number)
        if target is None or target is user:
            raise RestError.bad_value(
                f"{number} is not another user of the PBX", "INVALID_DESTINATION"
            )
        self._pbx.messaging.add_callback(target.login, self.views.identity(user.number))

    # -- call data ------------------------------------------------------------------------------

    def send_dtmf(self, party: Party, digits: str) -> None:
        """Send DTMF digits on the ACTIVE leg (kept in the call's ``dtmf`` list)."""
        if party.state != ACTIVE:
            raise _incompatible(party, "send DTMF in")
        _not_supervising(party)
        if not _DTMF.fullmatch(digits):
            raise RestError.bad_value(
                f"{digits!r} is not a DTMF sequence (0-9, *, #, A-D)", "INVALID_DATA"
            )
        assert party.call is not None
        party.call.dtmf.append({"from": party.pid, "digits": digits})

    def attach_data(self, party: Party, data: str | None) -> None:
        """Set (or clear) the call's associated data; every user in the call is told."""
        if data is not None:
            self._check_associated_data(data)
        call = party.call
        assert call is not None
        call.associate_data = data
        self._tell_all(call)

    def send_account_info(self, party: Party, info: str) -> None:
        """Set the call's account info (digits); every user in the call is told."""
        if not info.isdigit():
            raise RestError.bad_value(f"account info {info!r} must be numerical", "INVALID_DATA")
        call = party.call
        assert call is not None
        call.account_info = info
        self._tell_all(call)

    def record(self, party: Party, action: str) -> None:
        """Start, pause, resume or stop recording the call on the user's voicemail."""
        user = party.user
        assert user is not None
        if action not in ("start", "stop", "pause", "resume"):
            raise RestError.bad_parameter(
                f"action {action!r} must be one of start, stop, pause, resume"
            )
        if not user.voicemail:
            raise _service_unavailable(f"{user.login} has no voicemail to record on")
        if party.state != ACTIVE:
            raise _incompatible(party, f"{action} recording")
        _not_supervising(party)
        if action == "stop":
            allowed, new = party.record_state is not None, None
        else:
            before, new = _RECORDING[action]
            allowed = party.record_state == before
        if not allowed:
            raise RestError.incompatible_state(
                f"Cannot {action} recording: the recording is {party.record_state or 'off'}"
            )
        party.record_state = new
        self.core.emit(self.views.modified(party))

    def switch_device(self, party: Party, other_device: str) -> None:
        """Move the user's leg to another of its devices."""
        user = party.user
        assert user is not None
        if other_device == party.number or other_device not in self.core.devices(user):
            raise RestError.unauthorized(
                f"{other_device} is not another device of {user.login}", "INVALID_DEVICE"
            )
        if party.state not in (ACTIVE, HELD):
            raise _incompatible(party, "switch the device of")
        _not_supervising(party)
        old_leg = self.views.leg(party)
        party.number = other_device
        self.core.emit(self.views.modified(party, added_legs=[party], removed_legs=[old_leg]))

    # -- desk sharing ---------------------------------------------------------------------------

    def desk_logon(self, user: User, dss: str) -> None:
        """Log ``user`` on the desk-sharing set ``dss``; its calls ring there from now on."""
        number = self.core.dialled(dss)
        endpoint = self._pbx.resolve(number)
        owner = self.core.dss_users.get(number)
        if (
            not number.isdigit()
            or (owner is None and (endpoint.kind != "external" or endpoint.external is not None))
            or (owner is not None and owner is not user)
        ):
            raise RestError.bad_value(f"{number} is not a free desk-sharing set", "INVALID_DEVICE")
        if self.core.calls_of(user.login):
            raise RestError.incompatible_state(
                f"{user.login} has calls in progress", cause="INVALID_DEVICE_STATE"
            )
        if self.core.dss.get(user.login) == number:
            return
        if user.login in self.core.dss:
            self.desk_logoff(user)
        self.core.dss[user.login] = number
        self.core.dss_users[number] = user
        self._device_state(user, number, "IN_SERVICE")

    def desk_logoff(self, user: User) -> None:
        """Log ``user`` off its desk-sharing set; its calls ring on its own set again."""
        dss = self.core.dss.get(user.login)
        if dss is None:
            raise RestError.incompatible_state(
                f"{user.login} is not logged on a desk-sharing set", cause="INVALID_DEVICE_STATE"
            )
        if self.core.calls_of(user.login):
            raise RestError.incompatible_state(
                f"{user.login} has calls in progress", cause="INVALID_DEVICE_STATE"
            )
        del self.core.dss[user.login]
        del self.core.dss_users[dss]
        self._device_state(user, dss, "OUT_OF_SERVICE")

    # -- state ----------------------------------------------------------------------------------

    def telephonic_state(self, user: User) -> dict[str, Any]:
        """TelephonicState: the user's calls, device capabilities and FREE/BUSY."""
        login = user.login
        return {
            "calls": [self.views.call_json(call, login) for call in self.core.calls_of(login)],
            "deviceCapabilities": self.views.device_capabilities(user),
            "userState": self.core.user_state(login),
        }

    def publish_state(self, user: User) -> None:
        """OnTelephonyState (``POST /telephony/state/snapshot``)."""
        self.core.emit(
            {
                "eventName": "OnTelephonyState",
                "loginName": user.login,
                "state": self.telephonic_state(user),
            }
        )

    def device_states(self, user: User) -> list[dict[str, Any]]:
        """DeviceState of each of the user's devices, its desk-sharing set included."""
        states = [{"deviceId": device.id, "state": device.state} for device in user.devices]
        dss = self.core.dss.get(user.login)
        if dss is not None:
            states.append({"deviceId": dss, "state": "IN_SERVICE"})
        return states

    def snapshot(self) -> dict[str, Any]:
        """Calls, queues, busy users, hunting groups and desk sharing, for ``GET /sim/state``."""
        return {
            "calls": [call.snapshot() for call in self.core.by_ref.values()],
            "queues": self.distribution.snapshot(),
            "userStates": {login: s for login, s in self.core.user_states.items() if s != "FREE"},
            "huntingGroups": self.hunting.snapshot(),
            "deskSharing": dict(self.core.dss),
        }

    # -- outside world --------------------------------------------------------------------------

    def external_answer(self, number: str, call_ref: str | None = None) -> None:
        """The external party ``number`` answers the call ringing for it."""
        party = self._external_party(number, call_ref, (RINGING_INCOMING,))
        if party is None:
            raise RestError.incompatible_state(f"No call is ringing for {number}")
        self.core.answer(party)

    def external_hang_up(self, number: str, call_ref: str | None = None) -> None:
        """The external party ``number`` hangs up (its call, or its oldest one)."""
        party = self._external_party(number, call_ref, None)
        if party is None:
            raise RestError.incompatible_state(f"{number} has no call")
        self.core.leave(party)

    # -- helpers --------------------------------------------------------------------------------

    def _set_state(self, party: Party, state: str) -> None:
        party.state = state
        self.core.emit(self.views.modified(party, legs=[party]))

    def _other_leg(self, party: Party, states: tuple[str, ...]) -> Party | None:
        """The user's leg on the same device in another call, in one of ``states``."""
        assert party.user is not None
        for call in self.core.calls_of(party.user.login):
            if call is party.call:
                continue
            for other in call.parties:
                same_device = other.user is party.user and other.number == party.number
                if same_device and other.state in states:
                    return other
        return None

    def _move(self, party: Party, source: Call, target: Call) -> None:
        """Move a party from ``source`` to ``target`` (transfer, merge)."""
        source.parties.remove(party)
        if not source.parties:
            self.core.by_ref.pop(source.ref, None)
        party.call = target
        target.parties.append(party)
        target.history.append(party)
        if party.user is not None:
            calls = self.core.user_calls.setdefault(party.user.login, [])
            if source in calls:
                calls.remove(source)
            if target not in calls:
                calls.append(target)

    def _tell_all(self, call: Call) -> None:
        for party in call.parties:
            if party.user is not None:
                self.core.emit(self.views.modified(party))

    def _device_party(
        self, device: str, call_ref: str | None, states: tuple[str, ...]
    ) -> Party | None:
        owner = self.core.device_owner(device)
        if owner is None:
            raise RestError.not_found(f"Unknown device {device}")
        calls = self.core.calls_of(owner.login)
        if call_ref is not None:
            calls = [call for call in calls if call.ref == call_ref]
            if not calls:
                raise RestError.unknown_call(call_ref)
        for state in states:
            for call in calls:
                for party in call.parties:
                    on_device = party.number == device or party.also_ringing == device
                    if on_device and party.state == state:
                        return party
        return None

    def _external_party(
        self, number: str, call_ref: str | None, states: tuple[str, ...] | None
    ) -> Party | None:
        calls = (
            [self.core.get(call_ref)] if call_ref is not None else list(self.core.by_ref.values())
        )
        for call in calls:
            for party in call.parties:
                wanted = states is None or party.state in states
                if party.kind == "external" and party.number == number and wanted:
                    return party
        return None

    def _device_state(self, user: User, device: str, state: str) -> None:
        self.core.emit(
            {
                "eventName": "OnDeviceStateModified",
                "loginName": user.login,
                "deviceStates": [{"deviceId": device, "state": state}],
            }
        )

    @staticmethod
    def _check_associated_data(data: str) -> None:
        if len(data.encode()) > 32:
            raise RestError.bad_value("associated data is limited to 32 bytes", "INVALID_DATA")
