"""The objects of the call model: a call, its parties, and the media states they go through."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .config import User
from .routing import PHONE_NUMBER

__all__ = [
    "ACTIVE",
    "DIALING",
    "HELD",
    "IDLE",
    "RELEASING",
    "RINGING_INCOMING",
    "RINGING_OUTGOING",
    "Call",
    "Party",
    "basic_only",
    "normalize_number",
]

# MediaState values (spec "MediaState").
IDLE = "IDLE"
DIALING = "DIALING"
RINGING_INCOMING = "RINGING_INCOMING"
RINGING_OUTGOING = "RINGING_OUTGOING"
ACTIVE = "ACTIVE"
HELD = "HELD"
RELEASING = "RELEASING"

#: States in which a user counts as BUSY (a ringing incoming call leaves them FREE).
BUSY_STATES = frozenset({DIALING, RINGING_OUTGOING, ACTIVE, HELD})


def normalize_number(raw: str) -> str | None:
    """The dialled digits of ``raw`` (spaces and brackets dropped), or None if it is no number."""
    if not PHONE_NUMBER.fullmatch(raw):
        return None
    digits = raw.replace(" ", "").replace("(", "").replace(")", "")
    return digits or None


def basic_only(user: User) -> bool:
    """A TELEPHONY_BASIC user without the advanced licence: one call at a time."""
    return "TELEPHONY_BASIC" in user.licenses and "TELEPHONY_ADVANCED" not in user.licenses


@dataclass(eq=False, slots=True)
class Party:
    """One end of a call: a user's device, an external number, the voicemail or a pilot queue.

    ``kind`` is ``user``, ``external``, ``voicemail`` or ``pilot``. For a user, ``device`` is
    the set the leg is on and ``pid`` (the participantId others see) is the company number.
    """

    kind: str
    number: str  # the device number (user) or the dialled number (others)
    state: str
    role: str  # CALLER | CALLEE, for the communication log
    user: User | None = None
    call: Call | None = None
    joined: str = ""  # ISO date the party joined
    seq: int = 0  # order of joining, to find who overlapped with whom
    left_seq: int | None = None
    answered: bool = False
    diverted: bool = False  # re-routed away before being connected (the spec's "victim")
    rerouted: bool = False  # reached through a forward, redirect, pickup or transfer
    reason: str | None = None  # comlog reason of a re-routed party
    timer: asyncio.TimerHandle | None = None
    hunting: str | None = None  # the hunting group number that offered the call
    tried: set[str] = field(default_factory=set)  # hunting members already rung
    pilot: str | None = None  # the pilot that distributed the call to this agent
    acd_data: dict[str, Any] | None = None
    vm_owner: str | None = None  # voicemail party: whose mailbox records the message
    vm_from: str | None = None  # voicemail party: who is leaving the message
    answered_at: float = 0.0
    record_state: str | None = None  # RECORDING | PAUSED while the user records
    also_ringing: str | None = None  # a second device ringing with this one (remote extension)
    supervising: str | None = None  # a supervisor's party: its IntrusionMode
    supervised: Party | None = None  # a supervisor's party: the agent's party it supervises

    @property
    def pid(self) -> str:
        """The participantId other parties see: the company number of a user."""
        return self.user.number if self.user is not None else self.number

    @property
    def login(self) -> str | None:
        return self.user.login if self.user is not None else None


@dataclass(eq=False, slots=True)
class Call:
    """A call and every party in it; each user sees it through its own legs."""

    ref: str
    initial_called: str
    parties: list[Party] = field(default_factory=list)
    history: list[Party] = field(default_factory=list)  # every party that ever joined
    answered: bool = False
    associate_data: str | None = None
    account_info: str | None = None
    parked_on: str | None = None  # the device the call is parked on
    pilot: str | None = None  # the ACD pilot the call went through
    queued_at: float = 0.0
    dtmf: list[dict[str, str]] = field(default_factory=list)
    anonymous: bool = False
    ending: bool = False  # every party is being released

    def others(self, party: Party) -> list[Party]:
        return [p for p in self.parties if p is not party]

    def snapshot(self) -> dict[str, Any]:
        """The call as ``GET /sim/state`` shows it."""
        dump: dict[str, Any] = {
            "callRef": self.ref,
            "initialCalled": self.initial_called,
            "answered": self.answered,
            "parties": [_party_snapshot(p) for p in self.parties],
        }
        for key, value in (
            ("associateData", self.associate_data),
            ("accountInfo", self.account_info),
            ("parkedOn", self.parked_on),
            ("pilot", self.pilot),
        ):
            if value is not None:
                dump[key] = value
        if self.dtmf:
            dump["dtmf"] = self.dtmf
        return dump


def _party_snapshot(party: Party) -> dict[str, Any]:
    dump: dict[str, Any] = {
        "kind": party.kind,
        "number": party.number,
        "login": party.login,
        "state": party.state,
        "role": party.role,
    }
    if party.also_ringing is not None:
        dump["alsoRinging"] = party.also_ringing
    if party.supervising is not None:
        dump["supervising"] = party.supervising
    return dump
