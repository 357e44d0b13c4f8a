"""The PBX: configuration, the number plan, timers and the event outlet.

Each domain (calls, routing, messaging, ACD...) is a component that receives
the ``Pbx`` and keeps its own state; they talk to each other through the
attributes set up in ``Pbx._build_components``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RestError
from .config import External, HuntingGroup, PbxConfig, Pilot, User

__all__ = ["Endpoint", "Pbx"]

#: The spec spells one licence two ways (the agent snapshot endpoint).
_LICENSE_ALIASES = {"API_CONTACT_CENTER_AGENT": "API_CONTACTCENTER_AGENT"}

EventSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a dialled number reaches.

    ``kind`` is one of ``user`` (a user's device), ``hunting_group``, ``pilot``,
    ``voicemail`` (the voicemail service), ``proacd`` (an agent's pro-ACD set)
    or ``external`` (a number outside the PBX, known or not).
    """

    kind: str
    number: str
    user: User | None = None
    hunting_group: HuntingGroup | None = None
    pilot: Pilot | None = None
    external: External | None = None


class Pbx:
    """The simulated PBX state shared by every component and HTTP handler."""

    def __init__(self, config: PbxConfig) -> None:
        self.config = config
        self.timing = config.timing
        self.users: dict[str, User] = {user.login: user for user in config.users}
        self.administrators = {admin.login: admin for admin in config.administrators}
        self._numbers: dict[str, Endpoint] = {}
        for user in config.users:
            for device in user.devices:
                self._numbers[device.id] = Endpoint("user", device.id, user=user)
            if user.acd and user.acd.proacd:
                self._numbers[user.acd.proacd] = Endpoint("proacd", user.acd.proacd, user=user)
        for group in config.hunting_groups:
            self._numbers[group.number] = Endpoint(
                "hunting_group", group.number, hunting_group=group
            )
        for pilot in config.pilots:
            self._numbers[pilot.number] = Endpoint("pilot", pilot.number, pilot=pilot)
        for external in config.externals:
            self._numbers[external.number] = Endpoint(
                "external", external.number, external=external
            )
        self._numbers[config.voicemail_service] = Endpoint("voicemail", config.voicemail_service)
        self._sinks: list[EventSink] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._build_components()

    def _build_components(self) -> None:
        from .acd import Acd
        from .calls import CallModel
        from .messaging import Messaging
        from .objects import PbxObjects
        from .routing import RoutingBook

        self.routing = RoutingBook(self)
        self.messaging = Messaging(self)
        self.acd = Acd(self)
        self.objects = PbxObjects(self)
        self.calls = CallModel(self)

    # -- events ---------------------------------------------------------------------------------

    def add_sink(self, sink: EventSink) -> None:
        """Register a consumer of every event the PBX produces (the subscription hub)."""
        self._sinks.append(sink)

    def emit(self, event: dict[str, Any]) -> None:
        """Publish one event (a JSON-ready dict with ``eventName``)."""
        for sink in self._sinks:
            sink(event)

    # -- time -----------------------------------------------------------------------------------

    def later(self, delay: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds on the running loop."""
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)
        return handle

    def cancel(self, handle: asyncio.TimerHandle | None) -> None:
        """Cancel a timer from ``later`` (None is ignored)."""
        if handle is not None:
            handle.cancel()
            self._timers.discard(handle)

    def close(self) -> None:
        """Cancel every pending timer (the simulator is stopping)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    # -- users joining and leaving (PBX management's Subscribers) ----------------------------

    def add_user(self, user: User) -> None:
        """Make ``user`` a user of the PBX (OnUserCreated)."""
        self.users[user.login] = user
        for device in user.devices:
            self._numbers[device.id] = Endpoint("user", device.id, user=user)
        self.routing.add_user(user)
        self.messaging.add_user(user.login)
        self.emit({"eventName": "OnUserCreated", "user": self.user_json(user)})

    def remove_user(self, user: User) -> None:
        """Take ``user`` out of the PBX (OnUserDeleted); NOT_ALLOWED while it has a call, is
        an ACD agent or supervisor, or belongs to a hunting group."""
        if self.calls.calls_of(user.login):
            raise RestError.not_allowed(f"{user.login} is in a call")
        if user.acd is not None:
            raise RestError.not_allowed(f"{user.login} is an ACD {user.acd.type.lower()}")
        groups = [g.number for g in self.config.hunting_groups if user.login in g.members]
        if groups:
            raise RestError.not_allowed(f"{user.login} belongs to hunting group {groups[0]}")
        del self.users[user.login]
        for device in user.devices:
            self._numbers.pop(device.id, None)
        self.routing.remove_user(user.login)
        self.messaging.remove_user(user.login)
        self.emit({"eventName": "OnUserDeleted", "loginName": user.login})

    # -- lookups --------------------------------------------------------------------------------

    def user(self, login: str) -> User:
        """The user with this login, or NOT_FOUND."""
        try:
            return self.users[login]
        except KeyError:
            raise RestError.not_found(f"Unknown user login {login}") from None

    def resolve(self, number: str) -> Endpoint:
        """What ``number`` reaches; numbers outside the plan are external."""
        endpoint = self._numbers.get(number)
        if endpoint is not None:
            return endpoint
        return Endpoint("external", number)

    def user_by_number(self, number: str) -> User | None:
        """The user owning the device (or pro-ACD set) ``number``."""
        endpoint = self._numbers.get(number)
        return endpoint.user if endpoint else None

    def party(self, number: str) -> dict[str, Any]:
        """PartyInfo for ``number`` as events and call descriptions show it."""
        endpoint = self.resolve(number)
        if endpoint.user is not None:
            user = endpoint.user
            return {
                "id": {"loginName": user.login, "phoneNumber": number},
                "firstName": user.first_name,
                "lastName": user.last_name,
                "displayName": "",
                "type": {"main": "USER"},
            }
        if endpoint.kind == "voicemail":
            return {
                "id": {"phoneNumber": number},
                "displayName": "Voicemail",
                "type": {"main": "SERVICE", "subType": "voicemail"},
            }
        if endpoint.kind in ("hunting_group", "pilot"):
            group = endpoint.hunting_group or endpoint.pilot
            return {
                "id": {"phoneNumber": number},
                "displayName": group.name,
                "type": {"main": "DEVICE"},
            }
        if endpoint.external is not None:
            ext = endpoint.external
            return {
                "id": {"phoneNumber": number},
                "firstName": ext.first_name,
                "lastName": ext.last_name,
                "displayName": "",
                "type": {"main": "EXTERNAL"},
            }
        return {"id": {"phoneNumber": number}, "displayName": number, "type": {"main": "EXTERNAL"}}

    def user_json(self, user: User, *, with_devices: bool = True) -> dict[str, Any]:
        """The User representation; devices only go to the owner or an administrator."""
        body: dict[str, Any] = {
            "companyPhone": user.number,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "loginName": user.login,
            "nodeId": str(self.config.node_id),
        }
        if user.voicemail:
            body["voicemail"] = {"number": user.voicemail, "type": "VM_4635"}
        if with_devices:
            body["devices"] = [device.as_json() for device in user.devices]
        if user.email:
            body["eMailAddress"] = user.email
        return body

    def has_license(self, user: User, names: list[str]) -> bool:
        """Whether ``user`` holds one of the licences ``names`` (empty: none needed)."""
        return not names or any(_LICENSE_ALIASES.get(n, n) in user.licenses for n in names)

    def snapshot(self) -> dict[str, Any]:
        """A JSON dump of the whole PBX state (the control API serves it)."""
        dump: dict[str, Any] = {
            "node": {"id": self.config.node_id, "name": self.config.name},
            "users": {login: self.user_json(user) for login, user in self.users.items()},
        }
        for name in ("routing", "messaging", "calls", "acd", "objects"):
            dump[name] = getattr(self, name).snapshot()
        return dump
