"""The life of a call: placing it, routing it, ringing, answering, re-routing and ending it.

``CallCore`` keeps every call and emits, for each user in a call, OnCallCreated /
OnCallModified / OnCallRemoved for its own view, and OnUserStateModified when the user goes
FREE or BUSY (after the call event, as in the real capture). The operations users invoke
(hold, transfer, park...) are in ``calls.CallModel``, which holds a ``CallCore`` and uses
its public methods (the moves of parties); so do ``AcdDistribution`` and ``Supervision``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from .calls_acd import AcdDistribution
from .calls_diversion import Diversion
from .calls_events import Views, ringing_leg
from .calls_hunting import HuntingGroups
from .calls_records import com_record
from .calls_state import (
    ACTIVE,
    BUSY_STATES,
    DIALING,
    HELD,
    RELEASING,
    RINGING_INCOMING,
    RINGING_OUTGOING,
    Call,
    Party,
    normalize_number,
)
from .config import User
from .messaging import iso_now

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["CallCore"]

#: How many forwards a call may follow before it is refused (a forward loop).
MAX_FORWARDS = 5


class CallCore:
    """Every call of the PBX with the primitives that move parties in and out of them."""

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self.by_ref: dict[str, Call] = {}
        self.user_calls: dict[str, list[Call]] = {}
        self.user_states: dict[str, str] = {}
        self.dss: dict[str, str] = {}  # login -> desk-sharing set it is logged on
        self.dss_users: dict[str, User] = {}  # desk-sharing set -> user
        self._prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.hunting = HuntingGroups(pbx)
        self.views = Views(pbx, self.calls_of, self.devices)
        self.distribution = AcdDistribution(pbx, self)
        self.diversion = Diversion(pbx, self)

    # -- lookups --------------------------------------------------------------------------------

    def find(self, call_ref: str) -> Call | None:
        """The call ``call_ref``, if it still exists."""
        return self.by_ref.get(call_ref)

    def get(self, call_ref: str) -> Call:
        """The call ``call_ref``, or the spec's unknown-call error."""
        call = self.by_ref.get(call_ref)
        if call is None:
            raise RestError.unknown_call(call_ref)
        return call

    def calls_of(self, login: str) -> list[Call]:
        """The calls ``login`` has a leg in, oldest first."""
        return self.user_calls.get(login, [])

    def party_of(self, call_ref: str, login: str) -> Party:
        """``login``'s party in ``call_ref``; a call the user is not in is unknown to it."""
        call = self.get(call_ref)
        for party in call.parties:
            if party.login == login:
                return party
        raise RestError.unknown_call(call_ref)

    def devices(self, user: User) -> list[str]:
        """The user's devices, with the desk-sharing set it is logged on."""
        devices = [device.id for device in user.devices]
        dss = self.dss.get(user.login)
        if dss is not None:
            devices.append(dss)
        return devices

    def device_owner(self, number: str) -> User | None:
        """The user owning the device (pro-ACD set and desk-sharing set included)."""
        return self._pbx.user_by_number(number) or self.dss_users.get(number)

    def current_device(self, user: User) -> str:
        """Where calls to the user ring: its desk-sharing set when logged on, else its number."""
        return self.dss.get(user.login, user.number)

    def user_state(self, login: str) -> str:
        """FREE or BUSY, as the last OnUserStateModified of ``login`` told."""
        return self.user_states.get(login, "FREE")

    def dialled(self, raw: str) -> str:
        """A dialled number, or BAD_PARAMETER naming it."""
        number = normalize_number(raw) if isinstance(raw, str) else None
        if number is None:
            raise RestError.bad_value(f"{raw!r} is not a valid phone number", "INVALID_DESTINATION")
        return number

    # -- placing calls --------------------------------------------------------------------------

    def new_call(self, initial_called: str) -> Call:
        call = Call(ref=f"{self._prefix}{next(self._ids):08x}", initial_called=initial_called)
        self.by_ref[call.ref] = call
        return call

    def place(self, call: Call, caller: Party, number: str, *, announce_first: bool) -> str:
        """Route ``number`` for a new call whose caller is attached; return the callRef.

        ``announce_first``: the caller's set was rung first (make call without autoAnswer),
        so its OnCallCreated (DIALING) goes out before the destination is known.
        """
        if caller.user is not None and announce_first:
            self.emit(self.views.created(caller))
            self.sync_state(caller.user)
        target, cause = self.offer(call, number)
        if target is None:
            if caller.user is not None and not announce_first:
                self.emit(self.views.created(caller))
                self.sync_state(caller.user)
            self.end(call, None, cause, cause)
            return call.ref
        caller.state = RINGING_OUTGOING
        if caller.user is not None:
            if announce_first:
                self.emit(self.views.modified(caller, cause, legs=[caller], added=[target]))
            else:
                self.emit(self.views.created(caller, cause))
                self.sync_state(caller.user)
        self.announce(target, cause)
        return call.ref

    def offer(self, call: Call, number: str, depth: int = 0) -> tuple[Party | None, str | None]:
        """Attach the party ``number`` reaches, routing applied: (party, cause) or (None, why)."""
        if depth > MAX_FORWARDS:
            return None, "DESTINATION_NOT_OBTAINABLE"
        dss_user = self.dss_users.get(number)
        if dss_user is not None:
            return self.diversion.offer_user(call, dss_user, depth)
        endpoint = self._pbx.resolve(number)
        if endpoint.kind == "user" and endpoint.user is not None:
            return self.diversion.offer_user(call, endpoint.user, depth)
        if endpoint.kind == "proacd" and endpoint.user is not None:
            return self.ring(call, endpoint.user, number), None
        if endpoint.kind == "hunting_group":
            login = self.hunting.pick(number, self._is_free, set())
            if login is None:
                return None, "BUSY"
            user = self._pbx.users[login]
            party = self.ring(call, user, self.current_device(user), hunting=number)
            party.tried.add(login)
            return party, None
        if endpoint.kind == "pilot" and endpoint.pilot is not None:
            return self.distribution.queue(call, endpoint.pilot)
        kind = "voicemail" if endpoint.kind == "voicemail" else "external"
        party = Party(kind, number, RINGING_INCOMING, "CALLEE")
        self.attach(call, party)
        return party, None

    def ring(
        self,
        call: Call,
        user: User,
        device: str,
        *,
        hunting: str | None = None,
        pilot: str | None = None,
    ) -> Party:
        """A ringing leg for ``user`` on ``device``, with its no-answer timer."""
        party = Party(
            "user", device, RINGING_INCOMING, "CALLEE", user=user, hunting=hunting, pilot=pilot
        )
        self.attach(call, party)
        party.timer = self._pbx.later(self._pbx.timing.ring_timeout, self._no_answer, party)
        return party

    def voicemail(self, call: Call, owner: str | None) -> Party:
        """The voicemail service answering ``call`` for ``owner``'s box (attached)."""
        party = Party("voicemail", self._pbx.config.voicemail_service, RINGING_INCOMING, "CALLEE")
        party.vm_owner = owner
        self.attach(call, party)
        return party

    def announce(self, party: Party, cause: str | None) -> None:
        """Tell the new party's user about the call; the voicemail answers at once."""
        if party.user is not None:
            self.emit(self.views.created(party, cause))
        elif party.kind == "voicemail":
            self.answer(party)
        elif party.kind == "pilot":
            self.distribution.serve(party.number)

    # -- ringing, answering ---------------------------------------------------------------------

    def _no_answer(self, party: Party) -> None:
        """The ring time is over: next hunting member, back to the ACD queue, or overflow."""
        party.timer = None
        call = party.call
        if call is None or party.left_seq is not None or party.state != RINGING_INCOMING:
            return
        if party.pilot is not None:
            self.distribution.requeue(party)
            return
        if party.hunting is not None:
            login = self.hunting.pick(party.hunting, self._is_free, party.tried)
            if login is not None:
                user = self._pbx.users[login]
                target = self.ring(call, user, self.current_device(user), hunting=party.hunting)
                target.tried = party.tried | {login}
                self.replace(party, target, None, None, target.pid)
            return
        assert party.user is not None
        destination = self.diversion.destination(party.user, "no_answer")
        if destination is not None:
            self.reroute(party, destination, "FORWARDED", "FORWARDED", party.user.login)

    def answer(self, party: Party, device: str | None = None) -> None:
        """``party`` answers (on ``device``, its remote extension if that is the one ringing
        with it): it and the parties calling it become ACTIVE."""
        call = party.call
        assert call is not None
        self._pbx.cancel(party.timer)
        party.timer = None
        stopped = self.stop_parallel_ringing(party, device)
        if party.user is not None:
            self.hold_device(party.user, party.number, except_call=call)
        party.state = ACTIVE
        party.answered = call.answered = True
        connected = []
        for other in call.parties:
            if other is not party and other.state in (DIALING, RINGING_OUTGOING):
                other.state = ACTIVE
                other.answered = True
                connected.append(other)
        if party.user is not None:
            self.emit(self.views.modified(party, legs=[party], removed_legs=stopped))
            self.sync_state(party.user)
        for other in call.parties:
            if other is party or other.user is None:
                continue
            if other in connected:
                self.emit(self.views.modified(other, legs=[other]))
                self.sync_state(other.user)
            else:
                self.emit(self.views.modified(other, participants=[party]))
        if party.kind == "voicemail":
            party.answered_at = time.monotonic()
            peer = next((p for p in call.parties if p is not party), None)
            party.vm_from = peer.pid if peer is not None else None
            party.timer = self._pbx.later(
                self._pbx.timing.voicemail_message, self._voicemail_done, party
            )
        if party.pilot is not None and party.user is not None:
            self._pbx.acd.agent_call_started(party.user.login, call.ref)

    def stop_parallel_ringing(self, party: Party, device: str | None) -> list[dict[str, Any]]:
        """Of an office set and its remote extension ringing together, keep ``device`` (the
        one answering; None: the office set) and return the Leg of the other (none if only
        one rings)."""
        mobile = party.also_ringing
        if mobile is None:
            return []
        party.also_ringing = None
        if device != mobile:
            return [ringing_leg(mobile)]
        stopped = self.views.leg(party)
        party.number = mobile
        return [stopped]

    def _voicemail_done(self, party: Party) -> None:
        """The message time is over: the voicemail hangs up."""
        party.timer = None
        if party.call is not None and party.left_seq is None:
            self.leave(party)

    def hold_device(self, user: User, device: str, except_call: Call | None = None) -> None:
        """Put the user's ACTIVE legs on ``device`` on hold (a new call takes the line)."""
        for call in list(self.calls_of(user.login)):
            if call is except_call:
                continue
            for party in call.parties:
                if party.user is user and party.number == device and party.state == ACTIVE:
                    if party.supervising is not None:
                        self.leave(party)  # a supervisor taking the line ends its supervision
                        break
                    party.state = HELD
                    self.emit(self.views.modified(party, legs=[party]))

    # -- re-routing -----------------------------------------------------------------------------

    def reroute(
        self,
        victim: Party,
        destination: dict[str, Any],
        cause: str,
        reason: str,
        owner: str | None,
    ) -> None:
        """Move a ringing call from ``victim`` to ``destination`` (VOICEMAIL: ``owner``'s box;
        NUMBER: a number already normalised)."""
        call = victim.call
        assert call is not None
        victim.diverted, victim.reason = True, reason
        if destination["type"] == "VOICEMAIL":
            number = self._pbx.config.voicemail_service
            target: Party | None = self.voicemail(call, owner)
            refusal = None
        else:
            number = destination["number"]
            target, refusal = self.offer(call, number, 1)
        if target is None:
            self.detach(victim, cause, new_destination=number)
            self.end(call, None, refusal, refusal)
            return
        target.rerouted = True
        self.replace(victim, target, cause, cause, number)

    def replace(
        self,
        victim: Party,
        target: Party,
        cause: str | None,
        victim_cause: str | None,
        new_destination: str | None,
    ) -> None:
        """``target`` (attached) takes the place of ``victim`` in the call."""
        call = victim.call
        assert call is not None
        self.detach(victim, victim_cause, new_destination=new_destination)
        for party in call.parties:
            if party.user is not None and party is not target:
                self.emit(self.views.modified(party, cause, removed=[victim.pid], added=[target]))
        self.announce(target, cause)

    # -- leaving and ending ---------------------------------------------------------------------

    def leave(self, party: Party, cause: str | None = None) -> None:
        """``party`` hangs up: a conference carries on without it, a two-party call ends.

        Supervisors do not count: a supervisor hanging up leaves the call (its supervision
        ends), a call with one party left besides them ends.
        """
        call = party.call
        assert call is not None
        if party.supervising is not None:
            self.drop_out(party, cause or "CLEARED")
            assert party.user is not None
            self._pbx.acd.supervisor_left(party.user.login)
            return
        remaining = [p for p in call.others(party) if p.supervising is None]
        if len(remaining) >= 2 or (call.parked_on is not None and remaining):
            self.drop_supervisors(party)
            self.drop_out(party, cause or "CLEARED")
            return
        mine, others = self.end_causes(party)
        self.end(call, party, cause or mine, others)

    def drop_out(self, party: Party, cause: str) -> None:
        """``party`` leaves a call that carries on: the users still in it see it leave."""
        call = party.call
        assert call is not None
        self.detach(party, cause)
        for other in call.parties:
            if other.user is not None:
                self.emit(self.views.modified(other, "PARTICIPANT_LEFT", removed=[party.pid]))

    def peers(self, party: Party) -> list[Party]:
        """The other parties of the call of ``party``, but its supervisors."""
        call = party.call
        assert call is not None
        return [p for p in call.parties if p is not party and p.supervised is not party]

    def drop_supervisors(self, party: Party) -> None:
        """The supervisors of ``party`` leave its call, which it is leaving (the ACD ends
        their intrusion when it learns that the agent's call is over)."""
        call = party.call
        assert call is not None
        for supervisor in [p for p in call.parties if p.supervised is party]:
            self.drop_out(supervisor, "CLEARED")

    def end_causes(self, leaver: Party) -> tuple[str, str]:
        """Causes of a call ended by ``leaver``: for the leaver, for the others."""
        call = leaver.call
        assert call is not None
        if call.answered:
            return "CLEARED", "CLEARED"
        if leaver.state == RINGING_INCOMING:
            return "CLEARED", "BUSY"  # the called party rejected the call
        return "ABANDONED", "ABANDONED"

    def end(
        self, call: Call, leaver: Party | None, cause: str | None, others_cause: str | None
    ) -> None:
        """Release every party: the leaver is removed, the others go RELEASING then removed."""
        call.ending = True
        present = list(call.parties)
        if leaver is not None:
            self.detach(leaver, cause)
        for party in present:
            if party is leaver:
                continue
            removed = [p.pid for p in present if p is not party]
            self.detach(party, others_cause, releasing=removed)

    def detach(
        self,
        party: Party,
        cause: str | None,
        *,
        new_destination: str | None = None,
        releasing: list[str] | None = None,
        notify: bool = True,
        record: bool = True,
    ) -> None:
        """Take ``party`` out of its call: its events, record, voicemail deposit, ACD end.

        ``notify=False``: no call events (the user never saw the call); ``record=False``: no
        comlog record (the user's part carries on in another call).
        """
        call = party.call
        assert call is not None
        self._pbx.cancel(party.timer)
        party.timer = None
        user = party.user
        if user is not None and releasing is not None and notify:
            party.state = RELEASING
            self.emit(self.views.modified(party, legs=[party], removed=releasing))
        call.parties.remove(party)
        party.left_seq = next(self._seq)
        if not call.parties:
            self.by_ref.pop(call.ref, None)
        if user is not None:
            login = user.login
            if not any(p.login == login for p in call.parties):
                calls = self.user_calls.get(login)
                if calls and call in calls:
                    calls.remove(call)
            if notify:
                self.emit(self.views.removed(call, login, cause, new_destination))
                self.sync_state(user)
            if record:
                self._pbx.messaging.add_record(login, com_record(call, party, self.views.identity))
            if party.pilot is not None:
                self._pbx.acd.agent_call_ended(login, call.ref)
        elif party.kind == "voicemail":
            self._deposit(party)
        elif party.kind == "pilot":
            self.distribution.left(party, cause)

    def _deposit(self, party: Party) -> None:
        """A voicemail that answered a diverted call leaves the caller's message in the box."""
        if party.vm_owner is None or not party.answered or party.vm_from is None:
            return
        duration = max(1, round(time.monotonic() - party.answered_at))
        self._pbx.messaging.deposit_voicemail(
            party.vm_owner, self.views.identity(party.vm_from), duration
        )

    # -- bookkeeping ----------------------------------------------------------------------------

    def attach(self, call: Call, party: Party) -> None:
        party.call = call
        party.seq = next(self._seq)
        party.joined = iso_now()
        call.parties.append(party)
        call.history.append(party)
        if party.user is not None:
            calls = self.user_calls.setdefault(party.user.login, [])
            if call not in calls:
                calls.append(call)

    def sync_state(self, user: User) -> None:
        """Emit OnUserStateModified when the user goes FREE or BUSY."""
        login = user.login
        busy = any(
            p.login == login and p.state in BUSY_STATES
            for call in self.calls_of(login)
            for p in call.parties
        )
        state = "BUSY" if busy else "FREE"
        if self.user_states.get(login, "FREE") != state:
            self.user_states[login] = state
            self.emit({"eventName": "OnUserStateModified", "loginName": login, "state": state})

    def _is_free(self, login: str) -> bool:
        """Free for a hunting-group call: not busy, not ringing, not in DND."""
        user = self._pbx.users.get(login)
        if user is None or self._pbx.routing.state(login).dnd or self.diversion.is_busy(user):
            return False
        return not any(
            p.login == login and p.state == RINGING_INCOMING
            for call in self.calls_of(login)
            for p in call.parties
        )

    def emit(self, event: dict[str, Any]) -> None:
        self._pbx.emit(event)
