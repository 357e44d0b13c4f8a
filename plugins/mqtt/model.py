"""What the bridge knows of the PBX, kept from O2G events and snapshots, as topic values.

``Model.apply(event)`` updates the state of the user, agent or pilot the event is about and
returns the state topics whose value changed; ``Model.values`` holds the
current payload of every state topic (what a reconnect republishes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from .entities import Topics

__all__ = ["Model"]

log = logging.getLogger("o2g_flows.mqtt")

_RINGING = "RINGING_INCOMING"


@dataclass
class _User:
    calls: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # ref: state, remote


@dataclass
class _Pilot:
    waiting: int = 0
    queued: set[str] = field(default_factory=set)


class Model:
    """The exposed users, agents and pilots, and the payload of each of their topics."""

    def __init__(
        self,
        topics: Topics,
        users: tuple[str, ...],
        agents: tuple[str, ...],
        pilots: tuple[str, ...],
    ) -> None:
        self.topics = topics
        self.users = {login: _User() for login in users}
        self.agents = set(agents)
        self.pilots = {number: _Pilot() for number in pilots}
        self.values: dict[str, bytes] = {}
        for number in pilots:
            self.values[topics.pilot(number)] = b"0"

    # -- events ---------------------------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> list[str]:
        """Take an O2G event into account; the state topics whose payload changed. An event
        of an unexpected shape is logged and skipped."""
        changed: list[str] = []
        try:
            self._apply(event, changed)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            log.warning(
                "mqtt     %s of an unexpected shape skipped (%r)", event.get("eventName"), exc
            )
        return changed

    def _apply(self, event: dict[str, Any], changed: list[str]) -> None:
        name = event.get("eventName")
        login = event.get("loginName")
        if name in ("OnCallCreated", "OnCallModified", "OnCallRemoved"):
            user = self.users.get(login)  # type: ignore[arg-type]
            ref = event.get("callRef")
            if user is None or not isinstance(ref, str):
                return
            if name == "OnCallRemoved":
                user.calls.pop(ref, None)
                previous = None
            else:
                previous = event.get("previousCallRef")
                if isinstance(previous, str):
                    user.calls.pop(previous, None)
                state = ((event.get("callData") or {}).get("state")) or "ACTIVE"
                remote = _remote(event)
                if remote is None and ref in user.calls:
                    remote = user.calls[ref][1]
                user.calls[ref] = (state, remote)
            self._presence(login, user, changed)  # type: ignore[arg-type]
        elif name == "OnTelephonyState":
            user = self.users.get(login)  # type: ignore[arg-type]
            if user is not None:
                self.telephony(login, event.get("state") or {}, changed)  # type: ignore[arg-type]
        elif name == "OnRoutingStateChanged":
            if login in self.users:
                self.routing(login, event.get("routingState") or {}, changed)  # type: ignore[arg-type]
        elif name == "OnAgentStateChanged":
            if login in self.agents:
                self.agent(login, event.get("state") or {}, changed)  # type: ignore[arg-type]
        elif name in ("OnPilotCallQueued", "OnPilotCallRemoved"):
            self._pilot(name, event, changed)

    # -- snapshots ------------------------------------------------------------------------------

    def telephony(self, login: str, state: dict[str, Any], changed: list[str]) -> None:
        """A TelephonicState (``GET /telephony/state``) replaces what is known of the calls."""
        user = self.users[login]
        user.calls = {}
        for call in state.get("calls") or []:
            ref = call.get("callRef")
            if isinstance(ref, str):
                leg_state = (call.get("callData") or {}).get("state") or "ACTIVE"
                user.calls[ref] = (leg_state, _remote(call))
        self._presence(login, user, changed)

    def routing(self, login: str, state: dict[str, Any], changed: list[str]) -> None:
        """A RoutingState: DND and the forward."""
        dnd = bool((state.get("dndState") or {}).get("activate"))
        self._set(self.topics.user(login, "dnd"), b"ON" if dnd else b"OFF", changed)
        routes = state.get("forwardRoutes") or []
        route = routes[0] if routes and isinstance(routes[0], dict) else None
        destination: dict[str, Any] = {}
        if route is not None:
            destinations = route.get("destinations") or []
            destination = destinations[0] if destinations else {}
        kind = destination.get("type")
        if route is None or not kind:
            value, attributes = "none", {"type": None, "destination": None}
        elif kind == "VOICEMAIL":
            value = "voicemail"
            attributes = {"type": route.get("forwardType") or "IMMEDIATE", "destination": None}
        else:
            number = destination.get("number") or destination.get("deviceId") or ""
            value = str(number) or kind.lower()
            kind = route.get("forwardType") or "IMMEDIATE"
            attributes = {"type": kind, "destination": number or None}
        self._set(self.topics.user(login, "forward/attributes"), _json(attributes), changed)
        self._set(self.topics.user(login, "forward"), value.encode(), changed)

    def agent(self, login: str, state: dict[str, Any], changed: list[str]) -> None:
        """An AgentState: ``logged_off``, or the sub-state lowercased (``wrap_up``...)."""
        if state.get("mainState") != "LOG_ON":
            value = "logged_off"
        else:
            sub = str(state.get("subState") or "READY").lower()
            value = "wrap_up" if sub == "wrapup" else sub
        self._set(self.topics.agent(login), value.encode(), changed)

    # -- internals ------------------------------------------------------------------------------

    def _presence(self, login: str, user: _User, changed: list[str]) -> None:
        ringing = [remote for state, remote in user.calls.values() if state == _RINGING]
        if ringing:
            value, remote = "ringing", ringing[-1]
        elif user.calls:
            value, remote = "on_call", list(user.calls.values())[-1][1]
        else:
            value, remote = "idle", None
        attributes = {"remote": remote, "calls": len(user.calls)}  # before the state they tell
        self._set(self.topics.user(login, "presence/attributes"), _json(attributes), changed)
        self._set(self.topics.user(login, "presence"), value.encode(), changed)

    def _pilot(self, name: str, event: dict[str, Any], changed: list[str]) -> None:
        pilot = self.pilots.get(str(event.get("pilot")))
        ref = event.get("callRef")
        if pilot is None or not isinstance(ref, str):
            return
        if name == "OnPilotCallQueued":
            pilot.queued.add(ref)
            waiting = event.get("numberOfQueued")
            pilot.waiting = waiting if isinstance(waiting, int) else len(pilot.queued)
        elif ref in pilot.queued:
            pilot.queued.discard(ref)
            pilot.waiting = max(0, pilot.waiting - 1)
        self._set(self.topics.pilot(str(event["pilot"])), str(pilot.waiting).encode(), changed)

    def _set(self, topic: str, payload: bytes, changed: list[str]) -> None:
        if self.values.get(topic) != payload:
            self.values[topic] = payload
            changed.append(topic)


def _remote(event: dict[str, Any]) -> str | None:
    """The other party's number in a call event or Call (its first participant)."""
    for key in ("participants", "addedParticipants", "modifiedParticipants"):
        parties = event.get(key)
        if isinstance(parties, list) and parties and isinstance(parties[0], dict):
            identity = parties[0].get("identity") or {}
            number = (identity.get("id") or {}).get("phoneNumber")
            return str(number) if number is not None else parties[0].get("participantId")
    return None


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
